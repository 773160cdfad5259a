//! `ecomctl doctor` end to end: the real binary against moto (state bucket, identity), offline,
//! the report formats, the evidence bundle, and bad input.
//!
//! Tools come from `scripts/setup`; without them a test is skipped locally and FAILS under
//! `CI=true` (see `support::tool`).

mod support;

use reports::walk;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{repo, show, tool, Moto};

#[path = "doctor/cluster.rs"]
mod fake_cluster;
#[path = "doctor/reports.rs"]
mod reports;

/// The state the bootstrap stack makes: a customer KMS key with rotation, the bucket with
/// Object Lock, versioning, SSE-KMS, a public access block and a TLS-only policy limited to the
/// trusted roles; the lock table encrypted with the key and with point-in-time recovery.
const RIGHT: &str = r#"
kms = boto3.client('kms', **kw)
key = kms.create_key(Description='state')['KeyMetadata']['Arn']
kms.enable_key_rotation(KeyId=key)
B = "shop-tfstate-111111111111"
s3.create_bucket(Bucket=B, ObjectLockEnabledForBucket=True)
s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Enabled"})
@SSE@
s3.put_object_lock_configuration(Bucket=B, ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}})
@PAB@
arn = "arn:aws:s3:::" + B
trusted = ["arn:aws:iam::111111111111:role/SharedServicesTerraform", "arn:aws:iam::222222222222:role/NonprodTerraform",
           "arn:aws:iam::333333333333:role/ProdTerraform", "arn:aws:iam::111111111111:root"]
s3.put_bucket_policy(Bucket=B, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": [arn, arn + "/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyEveryoneElse", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": [arn, arn + "/*"], "Condition": {"ArnNotLike": {"aws:PrincipalArn": trusted}}}]}))
ddb.delete_table(TableName="shop-tf-lock")
ddb.get_waiter('table_not_exists').wait(TableName="shop-tf-lock")
ddb.create_table(TableName="shop-tf-lock",
    AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
    SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key})
ddb.update_continuous_backups(TableName="shop-tf-lock",
    PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
"#;

const KMS_SSE: &str = r#"s3.put_bucket_encryption(Bucket=B, ServerSideEncryptionConfiguration={"Rules": [
    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}, "BucketKeyEnabled": True}]})"#;
const AES_SSE: &str = r#"s3.put_bucket_encryption(Bucket=B, ServerSideEncryptionConfiguration={"Rules": [
    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})"#;
const BLOCKED: &str = r#"s3.put_public_access_block(Bucket=B, PublicAccessBlockConfiguration={
    "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})"#;
const OPEN: &str = r#"s3.put_public_access_block(Bucket=B, PublicAccessBlockConfiguration={
    "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False, "RestrictPublicBuckets": False})"#;

fn right() -> String {
    RIGHT.replace("@SSE@", KMS_SSE).replace("@PAB@", BLOCKED)
}

/// A moto server with the lock table, then `script` run against it (the bucket is the script's).
fn moto(account: Option<&str>, script: &str) -> Option<Moto> {
    let m = Moto::start_with(account, "")?;
    m.python(&repo().join(".tools/venv/bin/python"), script);
    Some(m)
}

/// A temp directory with `examples/full.yaml` as `ecomctl.yaml`.
struct Doctor {
    dir: tempfile::TempDir,
    endpoint: String,
    env: Vec<(String, String)>,
}

impl Doctor {
    fn new(moto: Option<&Moto>) -> Doctor {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo().join("examples/full.yaml"),
            dir.path().join("ecomctl.yaml"),
        )
        .unwrap();
        // prod's images.verify_key, relative to the config.
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        std::fs::copy(
            repo().join("examples/keys/cosign.pub"),
            dir.path().join("keys/cosign.pub"),
        )
        .unwrap();
        Doctor {
            dir,
            endpoint: moto.map_or("http://127.0.0.1:9".into(), |m| m.endpoint.clone()),
            env: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecomctl"));
        cmd.current_dir(self.dir.path())
            .args(["-c", "ecomctl.yaml", "doctor"])
            .args(args)
            .env("ECOMCTL_ROOT", repo())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("NO_COLOR", "1")
            .env("CI", "true")
            .env_remove("ECOMCTL_ENV")
            .env_remove("ECOMCTL_CONFIG")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("ECOMCTL_ASSUME_ROLE");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `--format json` parsed, with the exit code.
    fn json(&self, args: &[&str]) -> (Option<i32>, Value) {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.run(&all);
        let doc =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&out)));
        (out.status.code(), doc)
    }
}

/// `(status, resource)` of every outcome of `id`.
fn outcomes<'a>(doc: &'a Value, id: &str) -> Vec<&'a Value> {
    doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["id"] == id)
        .collect()
}

fn status(doc: &Value, id: &str) -> Vec<String> {
    outcomes(doc, id)
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_string())
        .collect()
}

/// The one outcome of `id` must be a failure, and the report must carry its control ids.
fn assert_fails_with_controls(doc: &Value, id: &str, pci: &str, soc2: &str) {
    assert_eq!(status(doc, id), vec!["fail"], "{id}: {:#}", doc["outcomes"]);
    let sarif_rule = doctor_rule(id);
    assert!(
        sarif_rule.pci_dss.iter().any(|c| c == pci),
        "{id} maps to PCI DSS {pci}"
    );
    assert!(
        sarif_rule.soc2.iter().any(|c| c == soc2),
        "{id} maps to SOC 2 {soc2}"
    );
}

fn doctor_rule(id: &str) -> &'static ecomctl::doctor::catalogue::CheckDef {
    ecomctl::doctor::catalogue::get(id).unwrap()
}

const STATE_CHECKS: [&str; 9] = [
    "ECOM-DOC-ST-001",
    "ECOM-DOC-ST-002",
    "ECOM-DOC-ST-003",
    "ECOM-DOC-ST-004",
    "ECOM-DOC-ST-005",
    "ECOM-DOC-ST-006",
    "ECOM-DOC-ST-007",
    "ECOM-DOC-ST-008",
    "ECOM-DOC-ST-009",
];

#[test]
fn a_state_bucket_made_right_passes_every_state_check() {
    let Some(m) = moto(None, &right()) else {
        return;
    };
    let d = Doctor::new(Some(&m));
    let (code, doc) = d.json(&["--only", "state"]);
    for id in STATE_CHECKS {
        assert_eq!(
            status(&doc, id),
            vec!["pass"],
            "{id}: {:#}",
            doc["outcomes"]
        );
    }
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["schema"], "ecomctl.doctor/v1");
}

#[test]
fn a_state_bucket_without_object_lock_fails_the_object_lock_check() {
    let script = right()
        .replace(
            "ObjectLockEnabledForBucket=True",
            "ObjectLockEnabledForBucket=False",
        )
        .replace(
            "s3.put_object_lock_configuration(",
            "0 and s3.put_object_lock_configuration(",
        );
    let Some(m) = moto(None, &script) else { return };
    let (code, doc) = Doctor::new(Some(&m)).json(&["--only", "state"]);
    assert_fails_with_controls(&doc, "ECOM-DOC-ST-002", "10.5.1", "CC7.2");
    assert!(outcomes(&doc, "ECOM-DOC-ST-002")[0]["message"]
        .as_str()
        .unwrap()
        .contains("not enabled"));
    assert_eq!(status(&doc, "ECOM-DOC-ST-001"), vec!["pass"]);
    assert_eq!(code, Some(3));
}

#[test]
fn a_state_bucket_with_aes256_instead_of_kms_fails_the_encryption_check() {
    let script = RIGHT.replace("@SSE@", AES_SSE).replace("@PAB@", BLOCKED);
    let Some(m) = moto(None, &script) else { return };
    let (code, doc) = Doctor::new(Some(&m)).json(&["--only", "state"]);
    assert_fails_with_controls(&doc, "ECOM-DOC-ST-003", "3.5.1", "CC6.1");
    assert!(outcomes(&doc, "ECOM-DOC-ST-003")[0]["message"]
        .as_str()
        .unwrap()
        .contains("AES256"));
    assert_eq!(status(&doc, "ECOM-DOC-ST-005"), vec!["pass"]);
    assert_eq!(code, Some(3));
}

#[test]
fn a_state_bucket_allowing_public_access_fails_the_public_access_check() {
    let script = RIGHT.replace("@SSE@", KMS_SSE).replace("@PAB@", OPEN);
    let Some(m) = moto(None, &script) else { return };
    let (code, doc) = Doctor::new(Some(&m)).json(&["--only", "state"]);
    assert_fails_with_controls(&doc, "ECOM-DOC-ST-005", "1.3.1", "CC6.6");
    assert_eq!(status(&doc, "ECOM-DOC-ST-003"), vec!["pass"]);
    assert_eq!(code, Some(3));
    // SARIF names the failed rule with its control tags.
    let out = Doctor::new(Some(&m)).run(&["--only", "state", "--format", "sarif"]);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "ECOM-DOC-ST-005"),
        "{sarif:#}"
    );
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let rule = rules.iter().find(|r| r["id"] == "ECOM-DOC-ST-005").unwrap();
    let tags = rule["properties"]["tags"].to_string();
    assert!(
        tags.contains("PCI-DSS-4.0:1.3.1") && tags.contains("SOC2:CC6.6"),
        "{tags}"
    );
}

#[test]
fn credentials_in_the_wrong_account_fail_the_identity_check() {
    // The credentials already are a role (no assuming) in 111111111111, the shared-services
    // account; nonprod and prod are elsewhere.
    let Some(m) = moto(Some("111111111111"), "") else {
        return;
    };
    let mut d = Doctor::new(Some(&m));
    d.env.push(("ECOMCTL_ASSUME_ROLE".into(), "false".into()));
    let (code, doc) = d.json(&["--only", "identity", "-e", "nonprod"]);
    let id = outcomes(&doc, "ECOM-DOC-ID-001");
    let by_res = |r: &str| id.iter().find(|o| o["resource"] == r).unwrap()["status"].clone();
    assert_eq!(by_res("shared-services"), "pass", "{doc:#}");
    assert_eq!(by_res("env:nonprod"), "fail", "{doc:#}");
    let msg = id.iter().find(|o| o["resource"] == "env:nonprod").unwrap()["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("111111111111") && msg.contains("222222222222"),
        "{msg}"
    );
    assert_eq!(code, Some(3));
    assert_fails_with_controls(
        &serde_json::json!({"outcomes": [id.iter().find(|o| o["resource"] == "env:nonprod").unwrap()]}),
        "ECOM-DOC-ID-001",
        "7.2.1",
        "CC6.1",
    );
}

#[test]
fn assumed_roles_in_the_right_accounts_pass_the_identity_check() {
    let Some(m) = moto(None, "") else { return };
    let (_, doc) = Doctor::new(Some(&m)).json(&["--only", "identity"]);
    assert_eq!(status(&doc, "ECOM-DOC-ID-001"), vec!["pass"; 3], "{doc:#}");
    assert_eq!(status(&doc, "ECOM-DOC-ID-003"), vec!["pass"; 3], "{doc:#}");
    assert_eq!(
        status(&doc, "ECOM-DOC-ID-004"),
        vec!["skip"],
        "CI=true: no person"
    );
}

#[test]
fn offline_needs_no_network_or_credentials_and_names_what_it_skipped() {
    let d = Doctor::new(None);
    let mut cmd = d.command(&[
        "--offline",
        "--only",
        "config,identity,state,cluster,local-state",
    ]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_ENDPOINT_URL", "http://192.0.2.1:9");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("[-] identity") && stdout.contains("skipped: --offline"),
        "{stdout}"
    );
    assert!(
        stdout.contains("identity (--offline), state (--offline), cluster (--offline)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("skipped groups: ") && stderr.contains("identity (--offline)"),
        "{stderr}"
    );
    assert!(stdout.contains("[✓] config"), "{stdout}");
}

/// A state directory with sensitive outputs kept in plain text, as the orchestrator writes it
/// today.
fn with_sensitive_outputs(d: &Doctor) -> PathBuf {
    let app = d.path(".ecomctl/prod/app");
    std::fs::create_dir_all(&app).unwrap();
    let outputs = serde_json::json!({
        "db_endpoint": {"sensitive": false, "type": "string", "value": "db.internal:5432"},
        "db_master_password": {"sensitive": true, "type": "string", "value": "correct-horse-battery"}
    });
    let file = app.join("outputs.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&outputs).unwrap()).unwrap();
    // Owner-only, so that only the plain-text outputs are wrong.
    use std::os::unix::fs::PermissionsExt;
    for (p, mode) in [
        (d.path(".ecomctl"), 0o700),
        (d.path(".ecomctl/prod"), 0o700),
        (app.clone(), 0o700),
        (file.clone(), 0o600),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    file
}

#[test]
fn sensitive_outputs_in_plain_text_fail_the_local_state_check_without_showing_them() {
    let d = Doctor::new(None);
    with_sensitive_outputs(&d);
    let (code, doc) = d.json(&["--offline", "--only", "local-state"]);
    let loc = outcomes(&doc, "ECOM-DOC-LOC-001");
    assert_eq!(loc[0]["status"], "fail", "{doc:#}");
    assert!(loc[0]["message"]
        .as_str()
        .unwrap()
        .contains("db_master_password"));
    assert_eq!(code, Some(3));
    let everything = d.run(&["--offline", "--only", "local-state", "--evidence", "ev"]);
    for text in [
        doc.to_string(),
        String::from_utf8_lossy(&everything.stdout).to_string(),
        String::from_utf8_lossy(&everything.stderr).to_string(),
    ] {
        assert!(
            !text.contains("correct-horse-battery"),
            "a secret leaked: {text}"
        );
    }
    for entry in walk(&d.path("ev")) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("correct-horse-battery"),
            "{}",
            entry.display()
        );
    }
}

#[test]
fn bad_input_is_a_clear_error_with_exit_2() {
    let d = Doctor::new(None);
    let unknown = d.run(&["--offline", "--only", "networking"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", show(&unknown));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("networking") && err.contains("local-state"),
        "{err}"
    );

    std::fs::write(d.path("waivers.yaml"), "waivers: []\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        d.path("waivers.yaml"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let readable = std::fs::read(d.path("waivers.yaml")).is_ok(); // root reads anything
    if !readable {
        let out = d.run(&["--offline", "--waivers", "waivers.yaml"]);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("cannot read waivers.yaml"),
            "{}",
            show(&out)
        );
    }
    let dir_as_file = d.run(&["--offline", "--waivers", "."]);
    assert_eq!(dir_as_file.status.code(), Some(2), "{}", show(&dir_as_file));
    assert!(
        String::from_utf8_lossy(&dir_as_file.stderr).contains("cannot read ."),
        "{}",
        show(&dir_as_file)
    );

    std::fs::write(
        d.path("no-expiry.yaml"),
        "waivers:\n  - id: ECOM-DOC-LOC-001\n    resource: x\n    owner: me\n    reason: r\n    ticket: T-1\n",
    )
    .unwrap();
    let out = d.run(&["--offline", "--waivers", "no-expiry.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-expiry.yaml:2:") && err.contains("missing field `expires`"),
        "{err}"
    );

    let env = d.run(&["--offline", "-e", "staging"]);
    assert_eq!(env.status.code(), Some(2), "{}", show(&env));
}

#[test]
fn a_waiver_accepts_a_doctor_finding_and_an_expired_one_fails() {
    let d = Doctor::new(None);
    with_sensitive_outputs(&d);
    let waiver = |expires: &str| {
        format!("waivers:\n  - id: ECOM-DOC-LOC-001\n    resource: .ecomctl/prod/app/outputs.json\n    owner: platform-team@example.com\n    reason: engine fix lands next sprint\n    ticket: SHOP-15\n    expires: {expires}\n")
    };
    let soon = ecomctl::policy::Date::today().add_days(30).to_string();
    std::fs::write(d.path("w.yaml"), waiver(&soon)).unwrap();
    let (code, doc) = d.json(&["--offline", "--only", "local-state", "--waivers", "w.yaml"]);
    let loc = outcomes(&doc, "ECOM-DOC-LOC-001")[0];
    assert_eq!(loc["waived"]["ticket"], "SHOP-15", "{doc:#}");
    assert_eq!(code, Some(0), "{doc:#}");
    let past = ecomctl::policy::Date::today().add_days(-1).to_string();
    std::fs::write(d.path("w.yaml"), waiver(&past)).unwrap();
    let (code, doc) = d.json(&["--offline", "--only", "local-state", "--waivers", "w.yaml"]);
    assert_eq!(code, Some(3), "{doc:#}");
    assert_eq!(doc["waivers"]["expired"][0]["ticket"], "SHOP-15");
}
