//! Shared by the orchestrator tests and the `up` benchmark: a moto server, a temp project with
//! the fixture stacks, and readers for ecomctl's NDJSON events; `outputs` fakes applied stages'
//! outputs for the render and cluster tests and the cluster_plan benchmark.
//!
//! Tools come from `scripts/setup`. Without them a test is skipped locally and FAILS under
//! `CI=true`, so CI can never pass without running these.
#![allow(dead_code)]

pub mod images;
pub mod outputs;

use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const STAGES: [&str; 3] = ["bootstrap", "foundation", "app"];

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A tool from `.tools/bin`, or `None` (skip) when missing outside CI.
/// `ECOMCTL_TEST_TERRAFORM` picks the Terraform the orchestrator tests use (`scripts/test`
/// runs them with the image's 1.11, then with 1.0.3 from `.tools/bin` for compatibility).
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = match std::env::var_os("ECOMCTL_TEST_TERRAFORM") {
        Some(tf) if name == "terraform" => PathBuf::from(tf),
        _ => repo().join(".tools/bin").join(name),
    };
    present(path, "run scripts/setup")
}

/// `path` when it exists; otherwise `None` (the test skips) with `fix` said, or a panic under
/// `CI=true`, where no test may skip.
pub fn present(path: PathBuf, fix: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is missing: {fix} (CI must not skip this test)",
            path.display()
        );
    }
    eprintln!("skipping: {} is missing ({fix})", path.display());
    None
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A moto server for the length of a test.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

/// The state bucket the way the bootstrap stack makes it.
pub const FIT_BUCKET: &str = r#"
s3.create_bucket(Bucket="shop-tfstate-111111111111", ObjectLockEnabledForBucket=True)
s3.put_bucket_versioning(Bucket="shop-tfstate-111111111111", VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_encryption(Bucket="shop-tfstate-111111111111", ServerSideEncryptionConfiguration={"Rules": [
    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
     "KMSMasterKeyID": "arn:aws:kms:us-east-1:000000000000:key/0f1c5e7a-5b1d-4c7e-9a3f-000000005409"}, "BucketKeyEnabled": True}]})
s3.put_object_lock_configuration(Bucket="shop-tfstate-111111111111", ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}})
"#;

/// A bucket made by hand without any of the protections.
pub const BARE_BUCKET: &str = r#"
s3.create_bucket(Bucket="shop-tfstate-111111111111")
"#;

impl Moto {
    pub fn start() -> Option<Moto> {
        Moto::start_with(None, FIT_BUCKET)
    }

    /// A moto server whose own account (what STS answers for credentials it did not issue) is
    /// `account` (moto's default 123456789012 when `None`), with the lock table and `bucket`.
    pub fn start_with(account: Option<&str>, bucket: &str) -> Option<Moto> {
        let moto = Moto::bare(account)?;
        let python = repo().join(".tools/venv/bin/python");
        // What the real bootstrap stack creates: the state bucket and the lock table.
        moto.python(
            &python,
            &format!(
                r#"{bucket}
ddb.create_table(TableName="shop-tf-lock",
    AttributeDefinitions=[{{"AttributeName": "LockID", "AttributeType": "S"}}],
    KeySchema=[{{"AttributeName": "LockID", "KeyType": "HASH"}}],
    BillingMode="PAY_PER_REQUEST")
"#
            ),
        );
        Some(moto)
    }

    /// A moto server holding nothing yet (for the real bootstrap stack to create it all).
    pub fn bare(account: Option<&str>) -> Option<Moto> {
        let bin = tool("moto_server")?;
        Moto::spawn(Command::new(bin), account)
    }

    /// A bare moto whose bucket policies are evaluated as AWS does (see
    /// `support/moto_policy_fix.py`): for the real bootstrap stack, whose buckets carry
    /// conditional policy statements that stock moto turns into a 403 on every object.
    pub fn bare_with_policy_fix() -> Option<Moto> {
        tool("moto_server")?;
        let mut cmd = Command::new(repo().join(".tools/venv/bin/python"));
        cmd.arg(repo().join("cli/tests/support/moto_policy_fix.py"));
        Moto::spawn(cmd, None)
    }

    fn spawn(mut cmd: Command, account: Option<&str>) -> Option<Moto> {
        let port = free_port();
        if let Some(a) = account {
            cmd.env("MOTO_ACCOUNT_ID", a);
        }
        let child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// Runs Python (boto3 from the moto venv) with `s3` and `ddb` clients bound to moto, as the
    /// shared-services Terraform role: the bucket and the lock table live in that account (the
    /// backends assume that role too).
    pub fn python(&self, python: &Path, body: &str) -> String {
        let script = format!(
            r#"import boto3, json
kw = dict(endpoint_url={:?}, region_name='us-east-1')
sts = boto3.client('sts', aws_access_key_id='test', aws_secret_access_key='test', **kw)
c = sts.assume_role(RoleArn='arn:aws:iam::111111111111:role/SharedServicesTerraform',
                    RoleSessionName='test-setup')['Credentials']
kw.update(aws_access_key_id=c['AccessKeyId'], aws_secret_access_key=c['SecretAccessKey'],
          aws_session_token=c['SessionToken'])
s3 = boto3.client('s3', **kw)
ddb = boto3.client('dynamodb', **kw)
{body}"#,
            self.endpoint
        );
        let out = Command::new(python).arg("-c").arg(script).output().unwrap();
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// The LockIDs in the DynamoDB lock table (Terraform keeps a `<bucket>/<key>-md5` digest
    /// item there for every state it wrote under the lock).
    pub fn lock_items(&self) -> Vec<String> {
        let out = self.python(
            &repo().join(".tools/venv/bin/python"),
            "r = ddb.scan(TableName='shop-tf-lock')\nprint(json.dumps(sorted(i['LockID']['S'] for i in r['Items'])))",
        );
        serde_json::from_str(out.trim()).unwrap()
    }

    pub fn state_keys(&self) -> Vec<String> {
        let out = self.python(
            &repo().join(".tools/venv/bin/python"),
            "r = s3.list_objects_v2(Bucket='shop-tfstate-111111111111')\nprint(json.dumps(sorted(o['Key'] for o in r.get('Contents', []))))",
        );
        serde_json::from_str(out.trim()).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes every `validation { ... }` block (some use functions newer than Terraform 1.0.3).
pub fn strip_validations(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("validation {") {
        out.push_str(&rest[..at]);
        let mut depth = 0usize;
        let mut end = at;
        for (i, c) in rest[at..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = at + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The config with the shared-services account's guardrails baseline switched off
/// (`shared_services.guardrails.enabled: false`, rendered as bootstrap's `enable_guardrails`).
/// Every project here renders bootstrap for moto, and moto does not answer most of what the
/// baseline creates (Security Hub standards, Macie, Detective, conformance packs, GuardDuty
/// features): a bootstrap applied against it with the baseline on would fail on them.
pub fn shared_guardrails_off(config: &str) -> String {
    let role = "  role_arn: arn:aws:iam::111111111111:role/SharedServicesTerraform\n";
    assert!(
        config.contains(role) && !config.contains("  guardrails:\n    enabled:"),
        "the shared_services block changed: update shared_guardrails_off"
    );
    config.replacen(
        role,
        &format!(
            "{role}  guardrails:\n    enabled: false # moto answers few of the baseline's APIs\n"
        ),
        1,
    )
}

/// A temp project: a content root (the repo's templates + fixture stacks) and a config.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub terraform: PathBuf,
    pub endpoint: Option<String>,
    pub path: Option<std::ffi::OsString>,
    pub extra_env: Vec<(String, String)>,
}

impl Project {
    pub fn new(terraform: PathBuf, moto: Option<&Moto>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let src = repo();
        for d in ["charts/platform", "cluster/priming", "cluster/addons"] {
            copy_tree(&src.join(d), &root.join(d));
        }
        std::fs::create_dir_all(root.join("stacks")).unwrap();
        std::fs::copy(
            src.join("stacks/ecomctl.backend.hcl.tera"),
            root.join("stacks/ecomctl.backend.hcl.tera"),
        )
        .unwrap();
        for stage in STAGES {
            let stack = root.join("stacks").join(stage);
            std::fs::create_dir_all(&stack).unwrap();
            let vars = std::fs::read_to_string(src.join("stacks").join(stage).join("variables.tf"))
                .unwrap();
            std::fs::write(stack.join("variables.tf"), strip_validations(&vars)).unwrap();
            let template = "ecomctl.tfvars.json.tera";
            std::fs::copy(
                src.join("stacks").join(stage).join(template),
                stack.join(template),
            )
            .unwrap();
            std::fs::copy(
                src.join("cli/tests/fixtures/stacks")
                    .join(stage)
                    .join("main.tf"),
                stack.join("main.tf"),
            )
            .unwrap();
        }
        let config = std::fs::read_to_string(src.join("examples/minimal.yaml")).unwrap();
        std::fs::write(
            dir.path().join("ecomctl.yaml"),
            format!(
                "{}\ntools:\n  terraform: \">= 1.0\"\n",
                shared_guardrails_off(&config)
            ),
        )
        .unwrap();
        Project {
            dir,
            terraform,
            endpoint: moto.map(|m| m.endpoint.clone()),
            path: None,
            extra_env: Vec::new(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn state(&self, scope: &str, stage: &str) -> PathBuf {
        self.dir.path().join(".ecomctl").join(scope).join(stage)
    }

    /// Puts a fake `terraform` first on PATH (and stops naming the real one explicitly).
    pub fn fake_terraform(&mut self, script_body: &str) {
        let bin = self.dir.path().join("fakebin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = format!(
            "#!/bin/bash\nREAL={real:?}\n{script_body}\nexec \"$REAL\" \"$@\"\n",
            real = self.terraform
        );
        let path = bin.join("terraform");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let old = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin];
        paths.extend(std::env::split_paths(&old));
        self.path = Some(std::env::join_paths(paths).unwrap());
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecomctl"));
        cmd.current_dir(self.dir.path())
            .args(["-c", "ecomctl.yaml"])
            .args(args)
            .env("ECOMCTL_ROOT", self.root())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("NO_COLOR", "1")
            // The fixture foundation names an EKS endpoint under .invalid: the cluster stage
            // runs only against the FAKE API server's kubeconfig a test gives.
            .env("ECOMCTL_CLUSTER_ACCESS", "kubeconfig")
            .env_remove("ECOMCTL_ENV")
            .env_remove("ECOMCTL_CONFIG")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL");
        match &self.path {
            Some(p) => {
                cmd.env("PATH", p).env_remove("ECOMCTL_TERRAFORM");
            }
            None => {
                cmd.env("ECOMCTL_TERRAFORM", &self.terraform);
            }
        }
        // Without moto, any AWS call goes to a closed loopback port and fails at once: a test
        // must never reach out beyond 127.0.0.0/8.
        cmd.env(
            "AWS_ENDPOINT_URL",
            self.endpoint.as_deref().unwrap_or("http://127.0.0.1:9"),
        );
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

pub fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

pub fn labels(events: &[&Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["scope"].as_str().unwrap(),
                e["stage"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The plan hash a refused run asks for (`--approve <hash>`), from stderr or the JSON events.
pub fn asked_hash(out: &Output) -> String {
    // The hint is on stderr, or in the `error` event on stdout with `--output json`.
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let re = regex::Regex::new(r"--approve ([0-9a-f]{12})").unwrap();
    re.captures(&err)
        .unwrap_or_else(|| panic!("no hash asked for:\n{}", show(out)))[1]
        .to_string()
}
