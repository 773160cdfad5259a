//! SBOMs into the artifacts bucket (the bootstrap stage's, beside CI logs and backups): one
//! object per image digest, encrypted with the bucket's KMS key, so an auditor finds what any
//! running digest is made of without registry access.

use super::digest_hex;
use super::sbom::MEDIA_CYCLONEDX;

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("uploading s3://{bucket}/{key}: {why}")]
    Upload {
        bucket: String,
        key: String,
        why: String,
    },
}

/// Where an image's SBOM goes: `sbom/<service>/sha256-<hex>.cdx.json`.
pub fn sbom_key(service: &str, digest: &str) -> String {
    format!(
        "sbom/{service}/sha256-{}.cdx.json",
        digest_hex(digest).unwrap_or_default()
    )
}

/// The bucket and how its objects are encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomBucket {
    pub bucket: String,
    /// The KMS key (ARN, id or alias); `None`: the bucket's default key for aws:kms.
    pub kms_key: Option<String>,
}

/// Puts `bytes` at `key`: `aws:kms` server-side encryption (the artifacts bucket refuses any
/// other, and any other key than its own), content type CycloneDX JSON.
pub async fn upload(
    s3: &aws_sdk_s3::Client,
    to: &SbomBucket,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), ArtifactError> {
    let mut put = s3
        .put_object()
        .bucket(&to.bucket)
        .key(key)
        .content_type(MEDIA_CYCLONEDX)
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
        .body(bytes.into());
    if let Some(k) = &to.kms_key {
        put = put.ssekms_key_id(k);
    }
    put.send().await.map_err(|e| ArtifactError::Upload {
        bucket: to.bucket.clone(),
        key: key.to_string(),
        why: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    })?;
    Ok(())
}

/// An S3 client for the SBOM uploads (path-style addressing when the endpoint is overridden).
pub fn s3_client(config: &aws_config::SdkConfig, endpoint: Option<&str>) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(config);
    if endpoint.is_some() {
        b = b.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sboms_are_keyed_by_service_and_digest() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            sbom_key("login", d),
            "sbom/login/sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.cdx.json"
        );
    }
}
