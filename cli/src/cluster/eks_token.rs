//! The bearer token EKS accepts, made in process (what `aws eks get-token` prints): a presigned
//! STS `GetCallerIdentity` URL whose signature covers the `x-k8s-aws-id: <cluster>` header,
//! base64url-encoded (no padding) behind `k8s-aws-v1.`. EKS accepts it for 15 minutes; callers
//! make a new one before [`EksToken::expires_at`].

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use std::time::{Duration, SystemTime};

/// How long a token is used before a new one is made (EKS honours 15 minutes).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(14 * 60);
const CLUSTER_HEADER: &str = "x-k8s-aws-id";
const PREFIX: &str = "k8s-aws-v1.";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot sign the STS request for the EKS token: {0}")]
    Sign(String),
}

#[derive(Clone)]
pub struct EksToken {
    pub token: String,
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for EksToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The regional STS endpoint (or the override, e.g. moto in tests).
pub fn sts_url(region: &str, endpoint: Option<&str>) -> String {
    let base = endpoint
        .map(|e| e.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
    format!("{base}/?Action=GetCallerIdentity&Version=2011-06-15")
}

/// Makes a token for `cluster` with `creds`, signed at `now`.
pub fn token(
    cluster: &str,
    region: &str,
    creds: &Credentials,
    endpoint: Option<&str>,
    now: SystemTime,
) -> Result<EksToken, TokenError> {
    let url = sts_url(region, endpoint);
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| TokenError::Sign(e.to_string()))?
        .into();
    let headers = [(CLUSTER_HEADER, cluster)];
    let request = SignableRequest::new(
        "GET",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| TokenError::Sign(e.to_string()))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| TokenError::Sign(e.to_string()))?
        .into_parts();
    let mut presigned = url;
    for (name, value) in instructions.params() {
        let value: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        presigned.push('&');
        presigned.push_str(name);
        presigned.push('=');
        presigned.push_str(&value);
    }
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned.as_bytes());
    Ok(EksToken {
        token: format!("{PREFIX}{encoded}"),
        expires_at: now + TOKEN_LIFETIME,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> String {
        let b64 = token.strip_prefix(PREFIX).expect("k8s-aws-v1. prefix");
        assert!(!b64.contains('='), "no padding");
        assert!(
            !b64.contains('+') && !b64.contains('/'),
            "url-safe alphabet"
        );
        String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .expect("base64url"),
        )
        .expect("utf-8")
    }

    #[test]
    fn token_is_a_presigned_get_caller_identity_that_signs_the_cluster_header() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("session".into()), None, "t");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let t = token("shop-nonprod", "eu-west-1", &creds, None, now).unwrap();
        let url = decode(&t.token);
        assert!(url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        assert!(url.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"));
        assert!(url
            .contains("X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fsts%2Faws4_request"));
        assert!(url.contains("X-Amz-Date=20231114T221320Z"));
        assert!(url.contains("X-Amz-Expires=60"));
        assert!(url.contains("X-Amz-Security-Token=session"));
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "the cluster header is signed: {url}"
        );
        let sig = url.split("X-Amz-Signature=").nth(1).expect("signature");
        let sig = sig.split('&').next().unwrap();
        assert_eq!(sig.len(), 64);
        assert!(sig.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(t.expires_at, now + TOKEN_LIFETIME);
        // The signature depends on the cluster name: another cluster, another token.
        let other = token("shop-prod", "eu-west-1", &creds, None, now).unwrap();
        assert_ne!(decode(&other.token), url);
        assert!(
            !format!("{t:?}").contains(PREFIX),
            "Debug never shows the token"
        );
    }

    #[test]
    fn endpoint_override_is_used_for_tests() {
        let creds = Credentials::new("a", "b", None, None, "t");
        let t = token(
            "c",
            "us-east-1",
            &creds,
            Some("http://127.0.0.1:5000/"),
            SystemTime::now(),
        )
        .unwrap();
        assert!(decode(&t.token).starts_with("http://127.0.0.1:5000/?Action=GetCallerIdentity"));
    }
}
