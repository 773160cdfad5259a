//! AWS identity: for the shared-services account and each environment, the credentials ecomctl
//! would use are in the config's account, come from an assumed role, and are not the root user;
//! a person at the keyboard uses MFA-backed temporary credentials.

use super::super::catalogue::Group;
use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome, Status};
use crate::aws::{AccountCheck, Aws, AwsError, Identity};
use serde_json::json;

/// What kind of principal an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    Root,
    User,
    AssumedRole,
    Federated,
    Other,
}

pub fn principal(arn: &str) -> Principal {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    if resource == "root" {
        Principal::Root
    } else if resource.starts_with("user/") {
        Principal::User
    } else if resource.starts_with("assumed-role/") {
        Principal::AssumedRole
    } else if resource.starts_with("federated-user/") {
        Principal::Federated
    } else {
        Principal::Other
    }
}

/// The outcomes for one account from what STS answered.
pub fn judge_account(resource: &str, answer: &Result<Identity, AwsError>) -> Vec<Outcome> {
    let (id, wrong) = match answer {
        Ok(id) => (id.clone(), None),
        Err(AwsError::WrongAccount {
            expected,
            actual,
            arn,
            ..
        }) => (
            Identity {
                account: actual.clone(),
                arn: arn.clone(),
            },
            Some(format!(
                "the credentials are {arn} in account {actual}, the config says {expected}"
            )),
        ),
        Err(e) => {
            let msg = e.to_string();
            return ["ECOM-DOC-ID-001", "ECOM-DOC-ID-002", "ECOM-DOC-ID-003"]
                .iter()
                .map(|c| Outcome::error(c, resource, msg.clone()))
                .collect();
        }
    };
    let kind = principal(&id.arn);
    vec![
        match wrong {
            Some(m) => Outcome::fail("ECOM-DOC-ID-001", resource, m),
            None => Outcome::pass(
                "ECOM-DOC-ID-001",
                resource,
                format!("account {} ({})", id.account, id.arn),
            ),
        },
        Outcome::verdict(
            "ECOM-DOC-ID-002",
            matches!(kind, Principal::AssumedRole | Principal::Federated),
            resource,
            format!("{} is {}", id.arn, describe(kind)),
        ),
        Outcome::verdict(
            "ECOM-DOC-ID-003",
            kind != Principal::Root,
            resource,
            format!("{} is {}", id.arn, describe(kind)),
        ),
    ]
}

fn describe(kind: Principal) -> &'static str {
    match kind {
        Principal::Root => "the account root user",
        Principal::User => "an IAM user (long-lived keys)",
        Principal::AssumedRole => "an assumed role",
        Principal::Federated => "a federated user",
        Principal::Other => "an unusual principal",
    }
}

/// MFA for a person: long-lived user keys with no session token cannot carry MFA.
pub fn judge_mfa(caller: &Result<Identity, AwsError>, session_token: bool, ci: bool) -> Outcome {
    let res = "ambient credentials";
    if ci {
        return Outcome::skip("ECOM-DOC-ID-004", res, "CI=true: no person at the keyboard");
    }
    match caller {
        Err(e) => Outcome::error("ECOM-DOC-ID-004", res, e.to_string()),
        Ok(id) => match principal(&id.arn) {
            Principal::Root => Outcome::fail(
                "ECOM-DOC-ID-004",
                res,
                format!("{} is the root user", id.arn),
            ),
            Principal::User if !session_token => Outcome::fail(
                "ECOM-DOC-ID-004",
                res,
                format!(
                    "{} uses long-lived access keys with no session: no MFA",
                    id.arn
                ),
            ),
            Principal::User => Outcome::new(
                "ECOM-DOC-ID-004",
                Status::Warn,
                res,
                format!(
                    "{} uses a session token; STS cannot tell whether it was made with MFA",
                    id.arn
                ),
            ),
            _ => Outcome::pass(
                "ECOM-DOC-ID-004",
                res,
                format!("{}: temporary credentials", id.arn),
            ),
        },
    }
}

fn region(ctx: &Context) -> String {
    ctx.loaded().map_or_else(
        || "us-east-1".to_string(),
        |l| l.config.regions.primary.clone(),
    )
}

pub fn run(ctx: &Context) -> GroupRun {
    let loaded = match super::need_config(ctx, Group::Identity) {
        Ok(l) => l,
        Err(skipped) => return skipped,
    };
    let aws = match Aws::new(&region(ctx), ctx.aws_endpoint.clone(), ctx.role_mode) {
        Ok(a) => a,
        Err(e) => return GroupRun::skipped(Group::Identity, "-", &format!("error: {e}")),
    };
    let config = &loaded.config;
    let mut checks = vec![AccountCheck {
        what: "the shared-services account".into(),
        account: config.shared_services.account_id.clone(),
        role_arn: config.shared_services.role_arn.clone(),
        session: "ecomctl-doctor".into(),
    }];
    let mut resources = vec!["shared-services".to_string()];
    for name in &ctx.envs {
        if let Some(env) = config.environments.get(name) {
            checks.push(AccountCheck {
                what: format!("environment {name}"),
                account: env.account.account_id.clone(),
                role_arn: env.account.role_arn.clone(),
                session: "ecomctl-doctor".into(),
            });
            resources.push(format!("env:{name}"));
        }
    }
    let caller = aws.caller();
    let (answers, _) = aws.check_all(&checks, None);
    let mut run = GroupRun::default();
    let shown: Vec<_> = resources
        .iter()
        .zip(&answers)
        .map(|(r, a)| match a {
            Ok(id) => json!({ "subject": r, "account": id.account, "arn": id.arn }),
            Err(e) => json!({ "subject": r, "error": e.to_string() }),
        })
        .collect();
    let ev = run.evidence(Evidence::json(
        "identity/sts.json",
        &json!({
            "role_mode": if ctx.role_mode.assumes() { "assume" } else { "as-is" },
            "caller": caller.as_ref().map_err(ToString::to_string),
            "accounts": shown,
        }),
    ));
    for (resource, answer) in resources.iter().zip(&answers) {
        for o in judge_account(resource, answer) {
            run.push(o.with_evidence(&ev));
        }
    }
    let token = std::env::var_os("AWS_SESSION_TOKEN").is_some_and(|t| !t.is_empty());
    run.push(judge_mfa(&caller, token, ctx.ci).with_evidence(&ev));
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(arn: &str) -> Identity {
        Identity {
            account: "111111111111".into(),
            arn: arn.into(),
        }
    }

    #[test]
    fn principals_are_told_apart() {
        assert_eq!(principal("arn:aws:iam::111111111111:root"), Principal::Root);
        assert_eq!(
            principal("arn:aws:iam::111111111111:user/alice"),
            Principal::User
        );
        assert_eq!(
            principal("arn:aws:sts::111111111111:assumed-role/R/s"),
            Principal::AssumedRole
        );
    }

    #[test]
    fn root_and_user_keys_fail() {
        let root = judge_account("env:prod", &Ok(id("arn:aws:iam::111111111111:root")));
        assert_eq!(root[2].status, Status::Fail);
        let user = judge_account("env:prod", &Ok(id("arn:aws:iam::111111111111:user/alice")));
        assert_eq!(user[1].status, Status::Fail);
        assert_eq!(
            judge_mfa(
                &Ok(id("arn:aws:iam::111111111111:user/alice")),
                false,
                false
            )
            .status,
            Status::Fail
        );
        assert_eq!(
            judge_mfa(&Ok(id("arn:aws:iam::111111111111:user/alice")), false, true).status,
            Status::Skip
        );
    }
}
