//! Registry credentials for Amazon ECR: `GetAuthorizationToken` with the ambient AWS credentials
//! (the same chain as every other AWS call: environment, SSO, profile, web identity in CI), the
//! token decoded into the user name and password the registry's Basic challenge takes.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use base64::Engine as _;

use super::auth::Credentials;

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error("ECR GetAuthorizationToken failed: {0}")]
    Call(String),
    #[error("ECR answered without a usable authorization token")]
    NoToken,
    #[error("no AWS region for {0}: not an ECR host name (<account>.dkr.ecr.<region>.amazonaws.com), and AWS_REGION is not set")]
    NoRegion(String),
}

/// Whether a registry host is ECR's (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`), and its
/// account and region.
pub fn ecr_host(registry: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = registry.split('.').collect();
    match parts.as_slice() {
        [account, "dkr", "ecr", region, "amazonaws", "com", ..]
            if account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some((account, region))
        }
        _ => None,
    }
}

/// Credentials for `registry` from ECR. `endpoint` sends the call elsewhere (moto in tests).
pub async fn credentials(registry: &str, endpoint: Option<&str>) -> Result<Credentials, EcrError> {
    // One token opens every registry the principal may use; only the region matters.
    let region = match ecr_host(registry) {
        Some((_, r)) => r.to_string(),
        None => std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .map_err(|_| EcrError::NoRegion(registry.to_string()))?,
    };
    let config = sdk_config(region, endpoint).await;
    let client = aws_sdk_ecr::Client::new(&config);
    let out = client
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| EcrError::Call(aws_sdk_ecr::error::DisplayErrorContext(e).to_string()))?;
    let token = out
        .authorization_data()
        .first()
        .and_then(|d| d.authorization_token())
        .ok_or(EcrError::NoToken)?;
    decode_token(token).ok_or(EcrError::NoToken)
}

/// The SDK configuration of the image commands' AWS calls (ECR tokens, SBOM uploads, KMS
/// keys): the ambient credentials, `region`, and `endpoint` instead of AWS's (moto in tests).
pub async fn sdk_config(region: String, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(60))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region))
        .http_client(http)
        .timeout_config(timeouts);
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

/// `base64("AWS:<password>")` -> the credentials.
fn decode_token(token: &str) -> Option<Credentials> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(Credentials {
        username: user.to_string(),
        password: password.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecr_hosts_are_recognised_and_tokens_decoded() {
        assert_eq!(
            ecr_host("111111111111.dkr.ecr.eu-west-1.amazonaws.com"),
            Some(("111111111111", "eu-west-1"))
        );
        assert_eq!(ecr_host("registry.example.com"), None);
        assert_eq!(ecr_host("127.0.0.1:5000"), None);
        let c = decode_token("QVdTOnNlY3JldA==").unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("AWS", "secret")
        );
        assert!(decode_token("not base64!").is_none());
    }
}
