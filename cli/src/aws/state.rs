//! Reading a stage's Terraform state object from the state bucket (never writing it). Whether
//! the bucket already holds bootstrap's state decides whether a machine without local records
//! may start bootstrap from a local state: it may not, it takes up the bucket's.

use super::{explain, Aws, AwsError, BucketCheck};

/// Refused above this size: a Terraform state of the stacks here is a few hundred KB.
pub const MAX_STATE_BYTES: usize = 64 * 1024 * 1024;

impl Aws {
    /// The object at `key` in the state bucket; `None` when the bucket or the object does not
    /// exist. Any other answer (access denied, a network error) is an error, never "absent".
    pub fn state_object(
        &self,
        check: &BucketCheck,
        key: &str,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        let config = self.config_for(&check.role_arn, &check.session);
        let mut s3 = aws_sdk_s3::config::Builder::from(&config);
        if self.endpoint.is_some() {
            s3 = s3.force_path_style(true);
        }
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        let failed = |detail: String| AwsError::BucketUnreachable {
            bucket: check.bucket.clone(),
            detail: format!("reading s3://{}/{key}: {detail}", check.bucket),
        };
        self.block(async {
            let out = match s3.get_object().bucket(&check.bucket).key(key).send().await {
                Ok(out) => out,
                Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(404) => {
                    return Ok(None)
                }
                Err(e) => return Err(failed(explain(e))),
            };
            if out
                .content_length()
                .is_some_and(|n| n > MAX_STATE_BYTES as i64)
            {
                return Err(failed(format!(
                    "the object is larger than {} MB",
                    MAX_STATE_BYTES >> 20
                )));
            }
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| failed(e.to_string()))?
                .into_bytes();
            Ok(Some(bytes.to_vec()))
        })
    }
}
