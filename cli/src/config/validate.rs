//! Semantic checks that a schema cannot express. Each finding names a field path; the loader
//! turns paths into file positions.

use super::model::*;
use crate::diag::nearest;
use crate::tools::version::Constraint;
use ipnet::Ipv4Net;
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::LazyLock;

mod env;
use env::environment;

/// A semantic problem: the field it concerns, what is wrong, and what would fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| Regex::new($pat).expect("static regex"));
    };
}

re!(PROJECT, r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$");
re!(
    REGION,
    r"^(us|eu|ap|sa|ca|me|af|il|mx)(-gov)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[1-9]$"
);
re!(ACCOUNT, r"^[0-9]{12}$");
re!(
    ROLE_ARN,
    r"^arn:aws(-us-gov|-cn)?:iam::([0-9]{12}):role/[A-Za-z0-9+=,.@_/-]{1,512}$"
);
re!(
    OIDC_ARN,
    r"^arn:aws(-us-gov|-cn)?:iam::[0-9]{12}:oidc-provider/token\.actions\.githubusercontent\.com$"
);
re!(
    SECRET_ARN,
    r"^arn:aws(-us-gov|-cn)?:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$"
);
re!(REPO, r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$");
re!(
    DOMAIN,
    r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
);
re!(
    EMAIL,
    r"^[A-Za-z0-9._%+-]+@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
);
re!(COGNITO_PREFIX, r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$");
re!(ENV_VAR, r"^[A-Z_][A-Z0-9_]*$");
re!(ENV_NAME, r"^[a-z][a-z0-9]{1,15}$");
re!(EKS_VERSION, r"^1\.[0-9]{2}$");
re!(DB_CLASS, r"^db\.[a-z0-9]+\.[a-z0-9]+$");
re!(ECR_NAME, r"^[a-z0-9]+([._/-][a-z0-9]+)*$");
re!(ZONE_ID, r"^Z[A-Z0-9]{1,31}$");
re!(TGW_ID, r"^tgw-[0-9a-f]{8,17}$");
re!(DIGEST, r"^sha256:[a-f0-9]{64}$");
re!(CPU, r"^([0-9]+m|[0-9]+(\.[0-9]+)?)$");
re!(MEMORY, r"^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$");
re!(INSTANCE_TYPE, r"^([a-z]+)([0-9]+)([a-z-]*)\.[0-9a-z]+$");
re!(IMAGE_TAG, r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$");

/// Retention values CloudWatch Logs accepts.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

#[derive(Default)]
struct Out(Vec<Finding>);

impl Out {
    fn err(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Finding {
            field: field.into(),
            message: message.into(),
            hint: None,
        });
    }
    fn hint(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.0.push(Finding {
            field: field.into(),
            message: message.into(),
            hint: Some(hint.into()),
        });
    }
    fn pattern(&mut self, field: &str, value: &str, re: &Regex, what: &str) -> bool {
        if re.is_match(value) {
            return true;
        }
        self.err(field, format!("\"{value}\" is not {what}"));
        false
    }
}

pub fn validate(c: &Config) -> Vec<Finding> {
    let mut o = Out::default();
    if c.version != 1 {
        o.hint(
            "version",
            format!("version {} is not known", c.version),
            "this ecomctl reads version 1",
        );
    }
    o.pattern(
        "project.name",
        &c.project.name,
        &PROJECT,
        "a project name (lowercase letters, digits and dashes, 3-24 long, starting with a letter)",
    );
    if c.project.owner.trim().is_empty() {
        o.err("project.owner", "must not be empty");
    }
    region(&mut o, "regions.primary", &c.regions.primary);
    if let Some(dr) = &c.regions.dr {
        if region(&mut o, "regions.dr", dr) && *dr == c.regions.primary {
            o.err(
                "regions.dr",
                "the DR region must differ from the primary region",
            );
        }
    }
    account(&mut o, "shared_services", &c.shared_services.account());
    if c.shared_services.guardrails.monthly_budget_usd == 0 {
        o.err(
            "shared_services.guardrails.monthly_budget_usd",
            "must be at least 1 (USD per month)",
        );
    }
    bucket(&mut o, "state.bucket", &c.state.bucket);
    bucket(&mut o, "artifacts.bucket", &c.artifacts.bucket);
    if c.state.bucket == c.artifacts.bucket {
        o.err("artifacts.bucket", "must differ from state.bucket");
    }
    if c.state.lock_retention_days < 1 {
        o.hint(
            "state.lock_retention_days",
            "must be at least 1",
            "Object Lock needs a default retention of 1 day or more",
        );
    }
    if c.artifacts.retention_days < 1 {
        o.err("artifacts.retention_days", "must be at least 1");
    }
    if let Some(alias) = &c.state.kms_alias {
        if !alias.starts_with("alias/") || alias.starts_with("alias/aws/") || alias.len() > 256 {
            o.hint(
                "state.kms_alias",
                format!("\"{alias}\" is not a customer KMS alias"),
                "write it as alias/<name>; alias/aws/ is reserved",
            );
        }
    }
    if c.trusted_role_arns.is_empty() {
        o.err(
            "trusted_role_arns",
            "needs at least one role ARN, or nobody can use the state bucket",
        );
    }
    for (i, arn) in c.trusted_role_arns.iter().enumerate() {
        o.pattern(
            &format!("trusted_role_arns[{i}]"),
            arn,
            &ROLE_ARN,
            "an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)",
        );
    }
    github(&mut o, &c.github);
    dns(&mut o, &c.dns);
    cognito(&mut o, &c.cognito);
    if c.alerts.emails.is_empty() {
        o.err(
            "alerts.emails",
            "needs at least one address, or alarms reach nobody",
        );
    }
    if c.alerts.emails.len() > 10 {
        o.hint(
            "alerts.emails",
            format!("lists {} addresses", c.alerts.emails.len()),
            "AWS Budgets mails at most 10 per alert: use a distribution list",
        );
    }
    for (i, e) in c.alerts.emails.iter().enumerate() {
        o.pattern(
            &format!("alerts.emails[{i}]"),
            e,
            &EMAIL,
            "an email address",
        );
    }
    for (field, text) in [
        ("tools.terraform", &c.tools.terraform),
        ("tools.helm", &c.tools.helm),
    ] {
        if let Err(e) = Constraint::parse(text) {
            o.err(field, e);
        }
    }
    o.0.extend(super::releases::check(c));
    o.0.extend(super::supply_chain::check(c));
    if c.environments.is_empty() {
        o.err("environments", "needs at least one environment");
    }
    let mut cidrs: Vec<(&str, Ipv4Net)> = Vec::new();
    for (name, env) in &c.environments {
        let p = format!("environments.{name}");
        if !ENV_NAME.is_match(name) {
            o.err(&p, format!("\"{name}\" is not an environment name (lowercase letters and digits, 2-16 long)"));
        }
        if let Some(net) = environment(&mut o, c, name, env, &p) {
            if let Some((other, _)) = cidrs
                .iter()
                .find(|(_, n)| n.contains(&net.network()) || net.contains(&n.network()))
            {
                o.hint(
                    format!("{p}.vpc.cidr"),
                    format!("{net} overlaps environment `{other}`"),
                    "give every environment its own /16",
                );
            }
            cidrs.push((name, net));
        }
    }
    o.0
}

fn region(o: &mut Out, field: &str, r: &str) -> bool {
    o.pattern(field, r, &REGION, "an AWS region name (like us-east-1)")
}

fn account(o: &mut Out, p: &str, a: &Account) {
    let id_ok = o.pattern(
        &format!("{p}.account_id"),
        &a.account_id,
        &ACCOUNT,
        "a 12-digit AWS account id",
    );
    let field = format!("{p}.role_arn");
    match ROLE_ARN.captures(&a.role_arn) {
        None => o.err(
            field,
            format!(
                "\"{}\" is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)",
                a.role_arn
            ),
        ),
        Some(caps) if id_ok && caps[2] != a.account_id => o.hint(
            field,
            format!(
                "the role is in account {}, but account_id is {}",
                &caps[2], a.account_id
            ),
            "a stage must assume a role in the account it deploys to",
        ),
        Some(_) => {}
    }
}

fn bucket(o: &mut Out, field: &str, b: &str) {
    let ok_chars = b
        .chars()
        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.');
    let ends_ok = b
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphanumeric())
        && b.chars()
            .last()
            .is_some_and(|ch| ch.is_ascii_alphanumeric());
    let ip_like = b.split('.').count() == 4 && b.split('.').all(|p| p.parse::<u8>().is_ok());
    if !(3..=63).contains(&b.len())
        || !ok_chars
        || !ends_ok
        || b.contains("..")
        || ip_like
        || b.starts_with("xn--")
    {
        o.hint(field, format!("\"{b}\" is not a valid S3 bucket name"), "3-63 lowercase letters, digits, dots and dashes, starting and ending with a letter or digit");
    }
}

fn github(o: &mut Out, g: &Github) {
    if g.repositories.is_empty() {
        o.err("github.repositories", "needs at least one org/repo");
    }
    for (i, r) in g.repositories.iter().enumerate() {
        let f = format!("github.repositories[{i}]");
        if r.contains('*') {
            o.hint(
                f,
                format!("\"{r}\" is a wildcard"),
                "name each repository: a wildcard lets any repository of the org deploy",
            );
        } else {
            o.pattern(&f, r, &REPO, "an org/repo name");
        }
    }
    for (i, b) in g.branches.iter().enumerate() {
        if b.is_empty() || b.contains('*') {
            o.err(
                format!("github.branches[{i}]"),
                "must name a branch, without wildcards",
            );
        }
    }
    if let Some(arn) = &g.oidc_provider.arn {
        o.pattern("github.oidc_provider.arn", arn, &OIDC_ARN, "the ARN of a GitHub OIDC provider (…:oidc-provider/token.actions.githubusercontent.com)");
    }
}

fn dns(o: &mut Out, d: &Dns) {
    o.pattern(
        "dns.root_domain",
        &d.root_domain,
        &DOMAIN,
        "a domain name (lowercase, like shop.example.com)",
    );
    match (&d.zone_id, d.create_zone) {
        (None, false) => o.hint(
            "dns.create_zone",
            "is false but no zone_id is given",
            "set dns.zone_id to the existing hosted zone, or create_zone: true",
        ),
        (Some(_), true) => o.hint(
            "dns.zone_id",
            "is given but create_zone is true",
            "drop zone_id, or set create_zone: false to reuse that zone",
        ),
        (Some(z), false) => {
            o.pattern("dns.zone_id", z, &ZONE_ID, "a Route53 hosted zone id (Z…)");
        }
        (None, true) => {}
    }
}

fn cognito(o: &mut Out, c: &Cognito) {
    let p = &c.domain_prefix;
    if o.pattern(
        "cognito.domain_prefix",
        p,
        &COGNITO_PREFIX,
        "a Cognito domain prefix (lowercase letters, digits, dashes)",
    ) {
        if let Some(word) = ["aws", "amazon", "cognito"].iter().find(|w| p.contains(*w)) {
            o.err(
                "cognito.domain_prefix",
                format!("Cognito refuses domain prefixes containing \"{word}\""),
            );
        }
    }
    if let Some(u) = &c.smoke_test_user {
        o.pattern(
            "cognito.smoke_test_user.email",
            &u.email,
            &EMAIL,
            "an email address",
        );
        secret_ref(o, "cognito.smoke_test_user.temp_password", &u.temp_password);
    }
}

fn secret_ref(o: &mut Out, p: &str, s: &SecretRef) {
    match (&s.env, &s.secret_arn) {
        (Some(var), None) => {
            o.pattern(
                &format!("{p}.env"),
                var,
                &ENV_VAR,
                "an environment variable name (UPPER_CASE)",
            );
        }
        (None, Some(arn)) => {
            if o.pattern(
                &format!("{p}.secret_arn"),
                arn,
                &SECRET_ARN,
                "a Secrets Manager secret ARN",
            ) {
                // Refused rather than accepted and ignored (the smoke-test user would silently
                // not be created).
                o.hint(
                    format!("{p}.secret_arn"),
                    "ecomctl does not read Secrets Manager for this field yet",
                    "give it as { env: VARIABLE } and export the variable where ecomctl runs",
                );
            }
        }
        _ => o.hint(
            p,
            "must name exactly one of `env` or `secret_arn`",
            "for example temp_password: { env: SMOKE_TEST_PASSWORD }",
        ),
    }
}
