//! The few AWS calls ecomctl makes itself, before Terraform touches anything:
//!
//! - **Who are we?** STS `GetCallerIdentity` with the credentials a stage will use (after assuming
//!   the account's role, unless told the credentials already are that role) must name the account
//!   the config gives, else the run is refused: no applying prod to the wrong account.
//! - **Is the state bucket fit?** Before a stage uses it as its backend, S3 must show that it
//!   exists, has versioning on, encrypts with KMS by default and has Object Lock enabled.
//!
//! Credentials come from the standard chain (environment, shared config/credentials files and
//! profiles, SSO, web identity, container and instance metadata); `AWS_ENDPOINT_URL` (moto in
//! tests) redirects every call. Everything here blocks on a small current-thread runtime: the
//! rest of ecomctl is synchronous.

mod state;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
pub use state::MAX_STATE_BYTES;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub mod audit;

/// What can go wrong asking AWS.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("cannot start the AWS client runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("cannot tell who the AWS credentials belong to ({what}): {detail}")]
    Identity { what: String, detail: String },
    #[error(
        "wrong AWS account for {what}: the credentials are {arn} in account {actual}, but the config says {expected}"
    )]
    WrongAccount {
        what: String,
        expected: String,
        actual: String,
        arn: String,
    },
    #[error("state bucket {bucket}: {detail}")]
    BucketUnreachable { bucket: String, detail: String },
    #[error("state bucket {bucket} is not fit to hold Terraform state: {}", problems.join("; "))]
    BucketUnfit {
        bucket: String,
        problems: Vec<String>,
    },
}

/// Whose credentials a call ran with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// What S3 says about the state bucket (only reported when it passes).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BucketFacts {
    pub versioning: String,
    pub encryption: String,
    pub kms_key: Option<String>,
    pub object_lock: String,
    /// Default retention in days, when the bucket sets one.
    pub retention_days: Option<i32>,
    /// Default retention mode (GOVERNANCE or COMPLIANCE), when the bucket sets one.
    pub retention_mode: Option<String>,
}

/// How ecomctl gets an account's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleMode {
    /// Assume the account's `role_arn` from the ambient credentials (the default).
    Assume,
    /// The ambient credentials already are the account's role (e.g. a CI job that assumed the
    /// deployer role through OIDC): use them as they are; Terraform does not assume either.
    AsIs,
}

impl RoleMode {
    pub fn parse(text: &str) -> RoleMode {
        match text.trim().to_ascii_lowercase().as_str() {
            "false" | "0" | "no" | "off" => RoleMode::AsIs,
            _ => RoleMode::Assume,
        }
    }

    pub fn assumes(self) -> bool {
        self == RoleMode::Assume
    }
}

/// An AWS session for one run: a region, an optional endpoint override and the role mode.
pub struct Aws {
    rt: tokio::runtime::Runtime,
    base: SdkConfig,
    endpoint: Option<String>,
    mode: RoleMode,
    /// One SDK configuration per assumed role.
    configs: RefCell<HashMap<String, SdkConfig>>,
}

static API_NANOS: AtomicU64 = AtomicU64::new(0);

/// Time this process has spent waiting on AWS API calls (it counts as ecomctl's own time).
pub fn api_time() -> Duration {
    Duration::from_nanos(API_NANOS.load(Ordering::Relaxed))
}

/// The full text of an SDK error (its `Display` alone says only "service error").
fn explain(e: impl std::error::Error) -> String {
    aws_sdk_sts::error::DisplayErrorContext(e).to_string()
}

impl Aws {
    pub fn new(region: &str, endpoint: Option<String>, mode: RoleMode) -> Result<Aws, AwsError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(20))
            .operation_timeout(Duration::from_secs(60))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .http_client(http)
            .timeout_config(timeouts);
        if let Some(e) = &endpoint {
            loader = loader.endpoint_url(e);
        }
        let base = rt.block_on(loader.load());
        Ok(Aws {
            rt,
            base,
            endpoint,
            mode,
            configs: RefCell::new(HashMap::new()),
        })
    }

    /// Runs one AWS call to completion, adding its time to [`api_time`].
    fn block<F: std::future::Future>(&self, call: F) -> F::Output {
        let started = std::time::Instant::now();
        let out = self.rt.block_on(call);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        API_NANOS.fetch_add(nanos, Ordering::Relaxed);
        out
    }

    pub fn mode(&self) -> RoleMode {
        self.mode
    }

    /// The SDK configuration for an account: the ambient one, or one that assumes `role_arn`
    /// (made once per role and run, so its credentials are fetched once).
    fn config_for(&self, role_arn: &str, session: &str) -> SdkConfig {
        if !self.mode.assumes() {
            return self.base.clone();
        }
        if let Some(c) = self.configs.borrow().get(role_arn) {
            return c.clone();
        }
        let provider = self.rt.block_on(
            AssumeRoleProvider::builder(role_arn)
                .session_name(session)
                .configure(&self.base)
                .build(),
        );
        let config = self
            .base
            .to_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        self.configs
            .borrow_mut()
            .insert(role_arn.to_string(), config.clone());
        config
    }

    /// Refuses unless the credentials for `role_arn` are in `expected_account`.
    pub fn verify_account(&self, check: &AccountCheck) -> Result<Identity, AwsError> {
        self.check_all(std::slice::from_ref(check), None)
            .0
            .remove(0)
    }

    /// Checks the state bucket with the credentials for `role_arn` (the shared-services role):
    /// it exists and is reachable, versioning is on, default encryption is KMS, Object Lock is
    /// enabled.
    pub fn check_state_bucket(&self, check: &BucketCheck) -> Result<BucketFacts, AwsError> {
        let (_, bucket) = self.check_all(&[], Some(check));
        bucket.expect("a bucket check was asked for")
    }

    /// Every account check and the bucket check at once: the calls of one check follow each
    /// other, the checks run side by side.
    pub fn check_all(
        &self,
        accounts: &[AccountCheck],
        bucket: Option<&BucketCheck>,
    ) -> CheckResults {
        let mode = self.mode;
        let path_style = self.endpoint.is_some();
        let mut tasks = tokio::task::JoinSet::new();
        let _in_runtime = self.rt.enter();
        for (i, check) in accounts.iter().enumerate() {
            let config = self.config_for(&check.role_arn, &check.session);
            let check = check.clone();
            tasks.spawn(async move { (i, Done::Account(verify(config, mode, check).await)) });
        }
        if let Some(check) = bucket {
            let config = self.config_for(&check.role_arn, &check.session);
            let check = check.clone();
            tasks.spawn(async move {
                (
                    usize::MAX,
                    Done::Bucket(inspect_bucket(config, mode, path_style, check).await),
                )
            });
        }
        let done = self.block(async move {
            let mut out = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                out.push(joined.expect("an AWS check task panicked"));
            }
            out
        });
        let mut ids: Vec<Option<Result<Identity, AwsError>>> =
            (0..accounts.len()).map(|_| None).collect();
        let mut facts = None;
        for (i, d) in done {
            match d {
                Done::Account(r) => ids[i] = Some(r),
                Done::Bucket(r) => facts = Some(r),
            }
        }
        (ids.into_iter().flatten().collect(), facts)
    }
}

/// One answer per account check, in order, and the bucket's when it was asked.
pub type CheckResults = (
    Vec<Result<Identity, AwsError>>,
    Option<Result<BucketFacts, AwsError>>,
);

/// One account to confirm.
#[derive(Debug, Clone)]
pub struct AccountCheck {
    /// How errors name it: `environment prod`, `the shared-services account`.
    pub what: String,
    pub account: String,
    pub role_arn: String,
    /// The STS session name when the role is assumed.
    pub session: String,
}

/// The state bucket to inspect, and the role to do it with.
#[derive(Debug, Clone)]
pub struct BucketCheck {
    pub bucket: String,
    pub role_arn: String,
    pub session: String,
}

enum Done {
    Account(Result<Identity, AwsError>),
    Bucket(Result<BucketFacts, AwsError>),
}

fn describe(mode: RoleMode, what: &str, role_arn: &str) -> String {
    if mode.assumes() {
        format!("{what}, assuming {role_arn}")
    } else {
        format!("{what}, credentials as they are")
    }
}

async fn verify(
    config: SdkConfig,
    mode: RoleMode,
    check: AccountCheck,
) -> Result<Identity, AwsError> {
    let sts = aws_sdk_sts::Client::new(&config);
    let out = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::Identity {
            what: describe(mode, &check.what, &check.role_arn),
            detail: explain(e),
        })?;
    let id = Identity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
    };
    if id.account != check.account {
        return Err(AwsError::WrongAccount {
            what: check.what,
            expected: check.account,
            actual: id.account,
            arn: id.arn,
        });
    }
    Ok(id)
}

async fn inspect_bucket(
    config: SdkConfig,
    mode: RoleMode,
    path_style: bool,
    check: BucketCheck,
) -> Result<BucketFacts, AwsError> {
    let s3 = s3_client(&config, path_style);
    let facts = read_bucket(&s3, mode, &check).await?;
    let problems = facts.problems();
    if !problems.is_empty() {
        return Err(AwsError::BucketUnfit {
            bucket: check.bucket.clone(),
            problems,
        });
    }
    Ok(facts)
}

fn s3_client(config: &SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let mut s3 = aws_sdk_s3::config::Builder::from(config);
    if path_style {
        // Endpoint overrides (moto, MinIO, LocalStack) do not serve virtual-hosted names.
        s3 = s3.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(s3.build())
}

/// Versioning, default encryption and Object Lock of a bucket that must exist.
async fn read_bucket(
    s3: &aws_sdk_s3::Client,
    mode: RoleMode,
    check: &BucketCheck,
) -> Result<BucketFacts, AwsError> {
    let bucket = check.bucket.as_str();
    let unreachable = |detail: String| AwsError::BucketUnreachable {
        bucket: bucket.to_string(),
        detail,
    };
    // The four questions go out together; the answer to "does it exist" is read first.
    let (head, versioning, encryption, lock) = tokio::join!(
        s3.head_bucket().bucket(bucket).send(),
        s3.get_bucket_versioning().bucket(bucket).send(),
        s3.get_bucket_encryption().bucket(bucket).send(),
        s3.get_object_lock_configuration().bucket(bucket).send(),
    );
    head.map_err(|e| {
        let status = e.raw_response().map(|r| r.status().as_u16());
        unreachable(match status {
            Some(404) => "does not exist".to_string(),
            Some(403) => format!(
                "access denied ({}); the state role must be allowed to read it",
                describe(mode, "shared services", &check.role_arn)
            ),
            _ => explain(e),
        })
    })?;
    let versioning = match versioning {
        Ok(out) => out.status().map(|s| s.as_str().to_string()),
        // Some S3-compatible servers (moto among them) name the answer's root element
        // `GetBucketVersioningResponse`, which the SDK refuses; the status inside is the same.
        Err(e) => match versioning_from_body(&e) {
            Some(status) => status,
            None => {
                return Err(unreachable(format!(
                    "reading its versioning: {}",
                    explain(e)
                )))
            }
        },
    }
    .unwrap_or_else(|| "never enabled".to_string());
    let (encryption, kms_key) = match encryption {
        Ok(out) => {
            let rule = out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default());
            (
                rule.map(|r| r.sse_algorithm().as_str().to_string())
                    .unwrap_or_else(|| "none".to_string()),
                rule.and_then(|r| r.kms_master_key_id()).map(str::to_string),
            )
        }
        Err(e) if code_is(&e, "ServerSideEncryptionConfigurationNotFoundError") => {
            ("none".to_string(), None)
        }
        Err(e) => {
            return Err(unreachable(format!(
                "reading its default encryption: {}",
                explain(e)
            )))
        }
    };
    let (object_lock, retention_days, retention_mode) = match lock {
        Ok(out) => {
            let c = out.object_lock_configuration();
            let retention = c.and_then(|c| c.rule()).and_then(|r| r.default_retention());
            (
                c.and_then(|c| c.object_lock_enabled())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "not enabled".to_string()),
                retention.and_then(|d| d.days().or(d.years().map(|y| y * 365))),
                retention
                    .and_then(|d| d.mode())
                    .map(|m| m.as_str().to_string()),
            )
        }
        Err(e) if code_is(&e, "ObjectLockConfigurationNotFoundError") => {
            ("not enabled".to_string(), None, None)
        }
        Err(e) => {
            return Err(unreachable(format!(
                "reading its Object Lock configuration: {}",
                explain(e)
            )))
        }
    };
    Ok(BucketFacts {
        versioning,
        encryption,
        kms_key,
        object_lock,
        retention_days,
        retention_mode,
    })
}

/// The versioning status from the body of a successful answer the SDK could not decode.
fn versioning_from_body<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<Option<String>> {
    let raw = e.raw_response()?;
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    if !body.contains("VersioningResponse") && !body.contains("VersioningConfiguration") {
        return None;
    }
    Some(
        body.split_once("<Status>")
            .and_then(|(_, rest)| rest.split_once("</Status>"))
            .map(|(status, _)| status.trim().to_string()),
    )
}

fn code_is<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>, code: &str) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.code()) == Some(code)
}

impl BucketFacts {
    /// Why this bucket may not hold state (empty when it may).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.versioning != "Enabled" {
            out.push(quoted("versioning is", &self.versioning, "Enabled"));
        }
        if !self.encryption.starts_with("aws:kms") {
            out.push(quoted(
                "default encryption is",
                &self.encryption,
                "aws:kms (SSE-KMS with the state key)",
            ));
        }
        if self.object_lock != "Enabled" {
            out.push(quoted("Object Lock is", &self.object_lock, "Enabled"));
        }
        out
    }
}

fn quoted(what: &str, found: impl Display, wanted: &str) -> String {
    format!("{what} `{found}`, it must be {wanted}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit() -> BucketFacts {
        BucketFacts {
            versioning: "Enabled".into(),
            encryption: "aws:kms".into(),
            kms_key: Some("arn:aws:kms:us-east-1:111111111111:key/x".into()),
            object_lock: "Enabled".into(),
            retention_days: Some(30),
            retention_mode: Some("GOVERNANCE".into()),
        }
    }

    #[test]
    fn a_fit_bucket_has_no_problems() {
        assert!(fit().problems().is_empty());
        let dsse = BucketFacts {
            encryption: "aws:kms:dsse".into(),
            ..fit()
        };
        assert!(dsse.problems().is_empty());
    }

    #[test]
    fn every_missing_protection_is_named() {
        let bare = BucketFacts {
            versioning: "Suspended".into(),
            encryption: "AES256".into(),
            kms_key: None,
            object_lock: "not enabled".into(),
            retention_days: None,
            retention_mode: None,
        };
        let p = bare.problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("versioning is `Suspended`"), "{p:?}");
        assert!(p[1].contains("`AES256`"), "{p:?}");
        assert!(p[2].contains("Object Lock is `not enabled`"), "{p:?}");
    }

    #[test]
    fn role_mode_reads_common_spellings() {
        for (text, mode) in [
            ("false", RoleMode::AsIs),
            ("0", RoleMode::AsIs),
            (" No ", RoleMode::AsIs),
            ("off", RoleMode::AsIs),
            ("true", RoleMode::Assume),
            ("", RoleMode::Assume),
        ] {
            assert_eq!(RoleMode::parse(text), mode, "{text:?}");
        }
    }
}
