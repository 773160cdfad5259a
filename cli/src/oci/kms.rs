//! Signing keys held in AWS KMS, named as cosign names them: `awskms:///alias/NAME` or
//! `awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID`. The key must be an asymmetric
//! `ECC_NIST_P256` key for `SIGN_VERIFY`; KMS `Sign` (ECDSA_SHA_256 over the raw payload, which
//! KMS hashes) gives the same DER signature a local key gives, and `GetPublicKey` the public half
//! for `verify`. The private key never leaves KMS.

use super::sign::{KeyError, VerifyingKey};

pub const SCHEME: &str = "awskms://";

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("{uri:?} is not a KMS key reference: {why} (expected awskms:///alias/NAME or awskms:///arn:aws:kms:REGION:ACCOUNT:key/ID)")]
    Uri { uri: String, why: String },
    #[error("KMS {call} on {key}: {why}")]
    Call {
        call: &'static str,
        key: String,
        why: String,
    },
    #[error("the KMS key {key} is not an ECC_NIST_P256 signing key: {source}")]
    NotP256 {
        key: String,
        #[source]
        source: KeyError,
    },
}

/// Whether a `--key` value names a KMS key rather than a file.
pub fn is_kms(key: &str) -> bool {
    key.starts_with(SCHEME)
}

/// The key id of an `awskms:///...` reference, and the region its ARN names (if it is one).
pub fn parse_uri(uri: &str) -> Result<(String, Option<String>), KmsError> {
    let bad = |why: &str| KmsError::Uri {
        uri: uri.to_string(),
        why: why.to_string(),
    };
    let rest = uri
        .strip_prefix(SCHEME)
        .ok_or_else(|| bad("it does not start with awskms://"))?;
    let id = rest.strip_prefix('/').ok_or_else(|| {
        bad("a host after awskms:// (a KMS endpoint) is not read; use AWS_ENDPOINT_URL")
    })?;
    if let Some(arn) = id.strip_prefix("arn:") {
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        match parts.as_slice() {
            [_, "kms", region, account, resource]
                if !region.is_empty()
                    && account.len() == 12
                    && (resource.starts_with("key/") || resource.starts_with("alias/")) =>
            {
                Ok((id.to_string(), Some(region.to_string())))
            }
            _ => Err(bad("the ARN is not a KMS key or alias ARN")),
        }
    } else if let Some(name) = id.strip_prefix("alias/") {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
        if ok {
            Ok((id.to_string(), None))
        } else {
            Err(bad("an alias name holds letters, digits, '/', '_' and '-'"))
        }
    } else {
        Err(bad("name an alias (alias/NAME) or a key ARN"))
    }
}

/// A KMS signing key and the client that reaches it.
pub struct KmsKey {
    client: aws_sdk_kms::Client,
    pub key_id: String,
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsKey({})", self.key_id)
    }
}

fn call_error(call: &'static str, key: &str, e: impl std::error::Error) -> KmsError {
    KmsError::Call {
        call,
        key: key.to_string(),
        why: aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
    }
}

impl KmsKey {
    pub fn new(config: &aws_config::SdkConfig, key_id: String) -> KmsKey {
        KmsKey {
            client: aws_sdk_kms::Client::new(config),
            key_id,
        }
    }

    /// A DER ECDSA P-256 signature over SHA-256 of `message` (at most 4096 bytes; cosign's
    /// payload is a few hundred).
    pub async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KmsError> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(aws_sdk_kms::primitives::Blob::new(message))
            .message_type(aws_sdk_kms::types::MessageType::Raw)
            .signing_algorithm(aws_sdk_kms::types::SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| call_error("Sign", &self.key_id, e))?;
        out.signature()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| KmsError::Call {
                call: "Sign",
                key: self.key_id.clone(),
                why: "no signature in the answer".into(),
            })
    }

    /// The public half, checked to be P-256.
    pub async fn public_key(&self) -> Result<VerifyingKey, KmsError> {
        let out = self
            .client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| call_error("GetPublicKey", &self.key_id, e))?;
        let der = out.public_key().map(|b| b.as_ref()).unwrap_or_default();
        VerifyingKey::from_der(der).map_err(|source| KmsError::NotP256 {
            key: self.key_id.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_style_references_parse() {
        assert_eq!(
            parse_uri("awskms:///alias/shop/cosign").unwrap(),
            ("alias/shop/cosign".to_string(), None)
        );
        let arn = "arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            parse_uri(&format!("awskms:///{arn}")).unwrap(),
            (arn.to_string(), Some("eu-west-1".to_string()))
        );
        for bad in [
            "awskms://localhost:4566/alias/x",
            "awskms:///key-id-without-prefix",
            "awskms:///alias/",
            "awskms:///arn:aws:s3:::bucket",
            "cosign.key",
        ] {
            assert!(parse_uri(bad).is_err(), "{bad}");
        }
        assert!(is_kms("awskms:///alias/x"));
        assert!(!is_kms("keys/cosign.key"));
    }
}
