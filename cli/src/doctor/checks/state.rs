//! The Terraform state as a unit: the bucket's versioning, Object Lock, SSE-KMS with a rotating
//! customer key, public access block, a TLS-only policy limited to the trusted roles, and the
//! lock table's encryption and point-in-time recovery.

use super::super::catalogue::Group;
use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use crate::aws::audit::StateAudit;
use crate::aws::{Aws, BucketCheck};
use crate::config::LockMethod;
use serde_json::Value;

/// What the config expects of the state.
#[derive(Debug, Clone)]
pub struct Expect {
    pub retention_days: u32,
    pub trusted: Vec<String>,
    /// The shared-services account (its root may stay in the policy's exceptions).
    pub account: String,
}

/// Every outcome for one audit.
pub fn judge(audit: &StateAudit, expect: &Expect) -> Vec<Outcome> {
    let res = format!("s3://{}", audit.bucket);
    let mut out = Vec::new();
    match &audit.settings {
        Err(e) => {
            for id in [
                "ECOM-DOC-ST-001",
                "ECOM-DOC-ST-002",
                "ECOM-DOC-ST-003",
                "ECOM-DOC-ST-004",
            ] {
                out.push(Outcome::error(id, res.clone(), e.clone()));
            }
        }
        Ok(f) => {
            out.push(Outcome::verdict(
                "ECOM-DOC-ST-001",
                f.versioning == "Enabled",
                res.clone(),
                format!("versioning is {}", f.versioning),
            ));
            let days = f.retention_days.unwrap_or(0);
            let lock_ok = f.object_lock == "Enabled"
                && f.retention_mode.is_some()
                && days >= i32::try_from(expect.retention_days).unwrap_or(i32::MAX);
            out.push(Outcome::verdict(
                "ECOM-DOC-ST-002",
                lock_ok,
                res.clone(),
                match (&f.retention_mode, f.object_lock.as_str()) {
                    (_, lock) if lock != "Enabled" => format!("Object Lock is {lock}"),
                    (None, _) => "Object Lock is on but sets no default retention".to_string(),
                    (Some(mode), _) => format!(
                        "Object Lock {mode}, {days} days (the config asks for at least {})",
                        expect.retention_days
                    ),
                },
            ));
            out.extend(judge_key(audit, f.encryption.as_str(), &res));
        }
    }
    out.push(match &audit.public_access_block {
        Err(e) => Outcome::error("ECOM-DOC-ST-005", res.clone(), e.clone()),
        Ok(None) => Outcome::fail("ECOM-DOC-ST-005", res.clone(), "no public access block: public ACLs and policies are allowed"),
        Ok(Some(p)) => Outcome::verdict(
            "ECOM-DOC-ST-005",
            p.all_on(),
            res.clone(),
            format!(
                "BlockPublicAcls={} IgnorePublicAcls={} BlockPublicPolicy={} RestrictPublicBuckets={}",
                p.block_public_acls, p.ignore_public_acls, p.block_public_policy, p.restrict_public_buckets
            ),
        ),
    });
    match &audit.policy {
        Err(e) => {
            out.push(Outcome::error("ECOM-DOC-ST-006", res.clone(), e.clone()));
            out.push(Outcome::error("ECOM-DOC-ST-007", res.clone(), e.clone()));
        }
        Ok(None) => {
            out.push(Outcome::fail(
                "ECOM-DOC-ST-006",
                res.clone(),
                "the bucket has no policy",
            ));
            out.push(Outcome::fail(
                "ECOM-DOC-ST-007",
                res.clone(),
                "the bucket has no policy",
            ));
        }
        Ok(Some(text)) => {
            let doc: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            out.push(Outcome::verdict(
                "ECOM-DOC-ST-006",
                denies_plain_http(&doc),
                res.clone(),
                if denies_plain_http(&doc) {
                    "a Deny on aws:SecureTransport=false covers everyone"
                } else {
                    "no Deny statement on aws:SecureTransport=false for every principal"
                },
            ));
            let (ok, msg) = limited_to(&doc, expect);
            out.push(Outcome::verdict("ECOM-DOC-ST-007", ok, res.clone(), msg));
        }
    }
    out.extend(judge_table(audit));
    out
}

fn judge_key(audit: &StateAudit, algorithm: &str, res: &str) -> Vec<Outcome> {
    if !algorithm.starts_with("aws:kms") {
        return vec![
            Outcome::fail(
                "ECOM-DOC-ST-003",
                res,
                format!("default encryption is {algorithm}, not aws:kms"),
            ),
            Outcome::skip("ECOM-DOC-ST-004", res, "no KMS key to rotate"),
        ];
    }
    match &audit.key {
        None => vec![
            Outcome::fail(
                "ECOM-DOC-ST-003",
                res,
                "aws:kms with the AWS-managed key (aws/s3), not a customer key",
            ),
            Outcome::skip("ECOM-DOC-ST-004", res, "AWS rotates its managed keys"),
        ],
        Some(Err(e)) => vec![
            Outcome::error("ECOM-DOC-ST-003", res, e.clone()),
            Outcome::error("ECOM-DOC-ST-004", res, e.clone()),
        ],
        Some(Ok(k)) => vec![
            Outcome::verdict(
                "ECOM-DOC-ST-003",
                k.manager == "CUSTOMER" && k.state == "Enabled",
                res,
                format!(
                    "{algorithm} with {} ({} managed, {})",
                    k.key, k.manager, k.state
                ),
            ),
            Outcome::verdict(
                "ECOM-DOC-ST-004",
                k.rotation,
                k.key.clone(),
                format!(
                    "automatic rotation is {}",
                    if k.rotation { "on" } else { "off" }
                ),
            ),
        ],
    }
}

fn judge_table(audit: &StateAudit) -> Vec<Outcome> {
    match &audit.lock_table {
        None => ["ECOM-DOC-ST-008", "ECOM-DOC-ST-009"]
            .iter()
            .map(|id| Outcome::skip(id, "-", "the config locks with S3 lock files, not a table"))
            .collect(),
        Some(Err(e)) => ["ECOM-DOC-ST-008", "ECOM-DOC-ST-009"]
            .iter()
            .map(|id| Outcome::error(id, "-", e.clone()))
            .collect(),
        Some(Ok(t)) => {
            let res = format!("dynamodb:{}", t.table);
            let sse =
                t.sse_status.as_deref() == Some("ENABLED") && t.sse_type.as_deref() == Some("KMS");
            vec![
                Outcome::verdict(
                    "ECOM-DOC-ST-008",
                    sse,
                    res.clone(),
                    match (&t.sse_status, &t.kms_key) {
                        (Some(s), Some(k)) => format!("encryption {s} with {k}"),
                        (Some(s), None) => format!("encryption {s}"),
                        _ => "encrypted with the AWS-owned default key only".to_string(),
                    },
                ),
                Outcome::verdict(
                    "ECOM-DOC-ST-009",
                    t.pitr.as_deref() == Some("ENABLED"),
                    res,
                    format!(
                        "point-in-time recovery is {}",
                        t.pitr.as_deref().unwrap_or("unknown")
                    ),
                ),
            ]
        }
    }
}

fn statements(doc: &Value) -> Vec<&Value> {
    match &doc["Statement"] {
        Value::Array(s) => s.iter().collect(),
        Value::Object(_) => vec![&doc["Statement"]],
        _ => Vec::new(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        Value::Bool(b) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

fn everyone(st: &Value) -> bool {
    st["Principal"] == "*" || strings(&st["Principal"]["AWS"]).iter().any(|p| p == "*")
}

fn denies_everyone(st: &Value) -> bool {
    st["Effect"] == "Deny"
        && everyone(st)
        && strings(&st["Action"])
            .iter()
            .any(|a| a == "s3:*" || a == "*")
}

/// A Deny for every principal on all S3 actions when `aws:SecureTransport` is false.
pub fn denies_plain_http(doc: &Value) -> bool {
    statements(doc).iter().any(|st| {
        denies_everyone(st)
            && strings(&st["Condition"]["Bool"]["aws:SecureTransport"])
                .iter()
                .any(|v| v == "false")
    })
}

/// A Deny for everyone except listed principals (`ArnNotLike`/`ArnNotEquals`/`StringNotLike`/
/// `StringNotEquals` on `aws:PrincipalArn`) that names only trusted roles and the account root.
pub fn limited_to(doc: &Value, expect: &Expect) -> (bool, String) {
    const OPS: [&str; 4] = [
        "ArnNotLike",
        "ArnNotEquals",
        "StringNotLike",
        "StringNotEquals",
    ];
    let root = format!("arn:aws:iam::{}:root", expect.account);
    for st in statements(doc).into_iter().filter(|s| denies_everyone(s)) {
        let allowed: Vec<String> = OPS
            .iter()
            .flat_map(|op| strings(&st["Condition"][*op]["aws:PrincipalArn"]))
            .collect();
        if allowed.is_empty() {
            continue;
        }
        let extra: Vec<&String> = allowed
            .iter()
            .filter(|a| !expect.trusted.contains(a) && **a != root)
            .collect();
        return if extra.is_empty() {
            (
                true,
                format!("everyone but {} is denied", allowed.join(", ")),
            )
        } else {
            let extra: Vec<&str> = extra.iter().map(|s| s.as_str()).collect();
            (
                false,
                format!(
                    "the policy also lets in {} (not in trusted_role_arns)",
                    extra.join(", ")
                ),
            )
        };
    }
    (
        false,
        "no Deny statement limits the bucket to the trusted roles (aws:PrincipalArn)".to_string(),
    )
}

pub fn run(ctx: &Context) -> GroupRun {
    let loaded = match super::need_config(ctx, Group::State) {
        Ok(l) => l,
        Err(skipped) => return skipped,
    };
    let c = &loaded.config;
    let aws = match Aws::new(&c.regions.primary, ctx.aws_endpoint.clone(), ctx.role_mode) {
        Ok(a) => a,
        Err(e) => return GroupRun::skipped(Group::State, "-", &format!("error: {e}")),
    };
    let check = BucketCheck {
        bucket: c.state.bucket.clone(),
        role_arn: c.shared_services.role_arn.clone(),
        session: "ecomctl-doctor".into(),
    };
    let table = match c.state.lock {
        LockMethod::S3 => None,
        _ => c.state.lock_table.as_deref(),
    };
    let audit = aws.audit_state(&check, table);
    let expect = Expect {
        retention_days: c.state.lock_retention_days,
        trusted: c.trusted_role_arns.clone(),
        account: c.shared_services.account_id.clone(),
    };
    let mut run = GroupRun::default();
    let ev = run.evidence(Evidence::json("state/audit.json", &audit));
    for o in judge(&audit, &expect) {
        run.push(o.with_evidence(&ev));
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect() -> Expect {
        Expect {
            retention_days: 30,
            trusted: vec!["arn:aws:iam::111111111111:role/T".into()],
            account: "111111111111".into(),
        }
    }

    #[test]
    fn policies_are_read_as_the_bootstrap_stack_writes_them() {
        let doc = json!({"Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::111111111111:role/T", "arn:aws:iam::111111111111:root"]}}}
        ]});
        assert!(denies_plain_http(&doc));
        assert!(limited_to(&doc, &expect()).0);
        let open = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::999999999999:role/X"]}}}]});
        let (ok, msg) = limited_to(&open, &expect());
        assert!(!ok && msg.contains("999999999999"), "{msg}");
        assert!(!denies_plain_http(&open));
    }
}
