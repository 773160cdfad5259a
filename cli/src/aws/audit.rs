//! Read-only answers for `ecomctl doctor`: who the ambient credentials belong to, and everything
//! about the state bucket as a unit (its settings, public access block, policy, KMS key, and the
//! lock table). Each answer is kept on its own, so one refused call does not hide the others.

use super::{
    code_is, explain, read_bucket, s3_client, Aws, AwsError, BucketCheck, BucketFacts, Identity,
};
use aws_config::SdkConfig;
use serde::Serialize;

/// The four settings of an S3 public access block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub fn all_on(&self) -> bool {
        self.block_public_acls
            && self.ignore_public_acls
            && self.block_public_policy
            && self.restrict_public_buckets
    }
}

/// What KMS says about the bucket's default key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyFacts {
    pub key: String,
    /// `CUSTOMER` or `AWS`.
    pub manager: String,
    pub state: String,
    pub rotation: bool,
}

/// What DynamoDB says about the lock table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableFacts {
    pub table: String,
    /// `ENABLED`, `DISABLED`, ... ; `None` when the table uses the default AWS-owned key.
    pub sse_status: Option<String>,
    /// `KMS` when a KMS key (AWS-managed or customer) encrypts it.
    pub sse_type: Option<String>,
    pub kms_key: Option<String>,
    /// Point-in-time recovery: `ENABLED` or `DISABLED`.
    pub pitr: Option<String>,
}

/// Every answer about the state, each an error text on its own when its call failed.
#[derive(Debug, Clone, Serialize)]
pub struct StateAudit {
    pub bucket: String,
    pub settings: Result<BucketFacts, String>,
    /// `None`: the bucket has no public access block at all.
    pub public_access_block: Result<Option<PublicAccessBlock>, String>,
    /// The bucket policy document; `None` when it has none.
    pub policy: Result<Option<String>, String>,
    /// The default encryption key; `None` when the bucket names no KMS key.
    pub key: Option<Result<KeyFacts, String>>,
    /// The lock table, when the config uses one.
    pub lock_table: Option<Result<TableFacts, String>>,
}

impl Aws {
    /// Who the ambient credentials (before any role is assumed) belong to.
    pub fn caller(&self) -> Result<Identity, AwsError> {
        let sts = aws_sdk_sts::Client::new(&self.base);
        let out = self
            .block(sts.get_caller_identity().send())
            .map_err(|e| AwsError::Identity {
                what: "the ambient credentials".into(),
                detail: explain(e),
            })?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// Everything about the state bucket (with the credentials for `check.role_arn`) and the
    /// lock table, when one is named.
    pub fn audit_state(&self, check: &BucketCheck, lock_table: Option<&str>) -> StateAudit {
        let config = self.config_for(&check.role_arn, &check.session);
        let path_style = self.endpoint.is_some();
        let mode = self.mode;
        self.block(async move {
            let s3 = s3_client(&config, path_style);
            let bucket = check.bucket.as_str();
            let (settings, pab, policy) = tokio::join!(
                read_bucket(&s3, mode, check),
                s3.get_public_access_block().bucket(bucket).send(),
                s3.get_bucket_policy().bucket(bucket).send(),
            );
            let settings = settings.map_err(|e| e.to_string());
            let public_access_block = match pab {
                Ok(out) => Ok(out
                    .public_access_block_configuration()
                    .map(|c| PublicAccessBlock {
                        block_public_acls: c.block_public_acls().unwrap_or(false),
                        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                        block_public_policy: c.block_public_policy().unwrap_or(false),
                        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                    })),
                Err(e) if code_is(&e, "NoSuchPublicAccessBlockConfiguration") => Ok(None),
                Err(e) => Err(explain(e)),
            };
            let policy = match policy {
                Ok(out) => Ok(out.policy().map(str::to_string)),
                Err(e) if code_is(&e, "NoSuchBucketPolicy") => Ok(None),
                Err(e) => Err(explain(e)),
            };
            let key_id = settings.as_ref().ok().and_then(|s| s.kms_key.clone());
            let (key, lock_table) = tokio::join!(
                async {
                    match key_id {
                        Some(k) => Some(read_key(&config, &k).await),
                        None => None,
                    }
                },
                async {
                    match lock_table {
                        Some(t) => Some(read_table(&config, t).await),
                        None => None,
                    }
                },
            );
            StateAudit {
                bucket: check.bucket.clone(),
                settings,
                public_access_block,
                policy,
                key,
                lock_table,
            }
        })
    }
}

async fn read_key(config: &SdkConfig, key: &str) -> Result<KeyFacts, String> {
    let kms = aws_sdk_kms::Client::new(config);
    let (described, rotation) = tokio::join!(
        kms.describe_key().key_id(key).send(),
        kms.get_key_rotation_status().key_id(key).send(),
    );
    let meta = described.map_err(|e| format!("describing KMS key {key}: {}", explain(e)))?;
    let meta = meta
        .key_metadata()
        .ok_or_else(|| format!("KMS key {key}: no metadata in the answer"))?;
    let rotation =
        rotation.map_err(|e| format!("reading the rotation of KMS key {key}: {}", explain(e)))?;
    Ok(KeyFacts {
        key: meta.arn().unwrap_or(key).to_string(),
        manager: meta
            .key_manager()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        state: meta
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        rotation: rotation.key_rotation_enabled(),
    })
}

async fn read_table(config: &SdkConfig, table: &str) -> Result<TableFacts, String> {
    let ddb = aws_sdk_dynamodb::Client::new(config);
    let (described, backups) = tokio::join!(
        ddb.describe_table().table_name(table).send(),
        ddb.describe_continuous_backups().table_name(table).send(),
    );
    let described = described.map_err(|e| format!("describing table {table}: {}", explain(e)))?;
    let sse = described.table().and_then(|t| t.sse_description());
    let backups =
        backups.map_err(|e| format!("reading the backups of table {table}: {}", explain(e)))?;
    Ok(TableFacts {
        table: table.to_string(),
        sse_status: sse.and_then(|s| s.status()).map(|s| s.as_str().to_string()),
        sse_type: sse
            .and_then(|s| s.sse_type())
            .map(|s| s.as_str().to_string()),
        kms_key: sse.and_then(|s| s.kms_master_key_arn()).map(str::to_string),
        pitr: backups
            .continuous_backups_description()
            .and_then(|c| c.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .map(|s| s.as_str().to_string()),
    })
}
