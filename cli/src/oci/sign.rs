//! Cosign-compatible signatures: the simple-signing payload naming the image digest, signed with
//! ECDSA P-256 / SHA-256 (ASN.1 DER, base64 in the `dev.cosignproject.cosign/signature`
//! annotation), stored as a layer of the manifest tagged `sha256-<hex>.sig` in the image's
//! repository, as cosign stores them; `cosign verify --key` reads the same layout.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey};
use serde_json::json;

use super::reference::Repo;
use super::registry::Client;
use super::transfer::TransferError;
use super::{digest_hex, Descriptor, Manifest, MEDIA_CONFIG, MEDIA_MANIFEST};

pub const MEDIA_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// The fixed DER prefix of a P-256 SubjectPublicKeyInfo; the 65-byte point follows.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key is not PEM ({0})")]
    NotPem(String),
    #[error("an encrypted key ({0}) cannot be used; give an unencrypted PKCS#8 P-256 key (PEM `PRIVATE KEY`)")]
    Encrypted(String),
    #[error("a PEM `{found}` was given where a `{wanted}` is needed")]
    WrongKind { found: String, wanted: String },
    #[error("the key is not an ECDSA P-256 key ({0})")]
    NotP256(String),
}

/// The DER inside the first PEM block, with its label.
pub fn pem_decode(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError::NotPem("no BEGIN line".into()))?;
    let rest = &text[begin + 11..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| KeyError::NotPem("bad BEGIN line".into()))?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end = rest
        .find("-----END ")
        .ok_or_else(|| KeyError::NotPem("no END line".into()))?;
    let b64: String = rest[body_start..end].split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| KeyError::NotPem(e.to_string()))?;
    Ok((label, der))
}

/// A private key to sign with. `Debug` shows only the public half.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningKey(P-256, public {})",
            super::hex(&self.pair.public_key().as_ref()[..8])
        )
    }
}

impl SigningKey {
    pub fn from_pem(text: &str) -> Result<SigningKey, KeyError> {
        let (label, der) = pem_decode(text)?;
        if label.contains("ENCRYPTED") {
            return Err(KeyError::Encrypted(label));
        }
        if label != "PRIVATE KEY" {
            return Err(KeyError::WrongKind {
                found: label,
                wanted: "PRIVATE KEY".into(),
            });
        }
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &der,
            &SystemRandom::new(),
        )
        .map_err(|e| KeyError::NotP256(e.to_string()))?;
        Ok(SigningKey { pair })
    }

    /// The public key as PEM (`PUBLIC KEY`, SubjectPublicKeyInfo), what `verify --key` takes.
    pub fn public_pem(&self) -> String {
        spki_pem(self.pair.public_key().as_ref())
    }

    /// A DER ECDSA signature over SHA-256 of `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| KeyError::NotP256(e.to_string()))
    }
}

/// A P-256 point as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
fn spki_pem(point: &[u8]) -> String {
    let mut der = SPKI_P256_PREFIX.to_vec();
    der.extend_from_slice(point);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// What signs: a private key given to ecomctl, or one that never leaves AWS KMS.
#[derive(Debug)]
pub enum Signer {
    Key(Box<SigningKey>),
    Kms(super::kms::KmsKey),
}

impl Signer {
    /// A DER ECDSA P-256 signature over SHA-256 of `message`.
    pub async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Signer::Key(k) => k.sign(message).map_err(|e| e.to_string()),
            Signer::Kms(k) => k.sign(message).await.map_err(|e| e.to_string()),
        }
    }
}

/// A public key to verify with.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    point: Vec<u8>,
}

impl VerifyingKey {
    pub fn from_pem(text: &str) -> Result<VerifyingKey, KeyError> {
        let (label, der) = pem_decode(text)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::WrongKind {
                found: label,
                wanted: "PUBLIC KEY".into(),
            });
        }
        VerifyingKey::from_der(&der)
    }

    /// From a DER SubjectPublicKeyInfo (what KMS GetPublicKey answers).
    pub fn from_der(der: &[u8]) -> Result<VerifyingKey, KeyError> {
        match der.strip_prefix(&SPKI_P256_PREFIX[..]) {
            Some(point) if point.len() == 65 && point[0] == 4 => Ok(VerifyingKey {
                point: point.to_vec(),
            }),
            _ => Err(KeyError::NotP256("not a P-256 SubjectPublicKeyInfo".into())),
        }
    }

    pub fn public_pem(&self) -> String {
        spki_pem(&self.point)
    }

    pub fn verify(&self, message: &[u8], der_signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &self.point)
            .verify(message, der_signature)
            .is_ok()
    }
}

/// The simple-signing payload cosign signs (same field order as cosign writes it).
pub fn payload(repo: &Repo, digest: &str) -> Vec<u8> {
    let v = json!({
        "critical": {
            "identity": { "docker-reference": repo.to_string() },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The tag cosign keeps an image's signatures under.
pub fn signature_tag(digest: &str) -> String {
    format!("sha256-{}.sig", digest_hex(digest).unwrap_or_default())
}

/// The config blob of a signature manifest: the payload layers as its diff ids.
fn config_for(layers: &[Descriptor]) -> Vec<u8> {
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let v = json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{ "created": "0001-01-01T00:00:00Z" }],
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "config": {},
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Signs `repo@digest` and stores the signature beside the ones already there.
/// Returns the signature manifest's digest.
pub async fn sign(
    client: &Client,
    repo: &Repo,
    digest: &str,
    key: &Signer,
) -> Result<String, TransferError> {
    client.ping(repo).await?;
    if client.get_manifest(repo, digest).await?.is_none() {
        return Err(TransferError::NotInSource {
            repo: repo.to_string(),
            digest: digest.to_string(),
        });
    }
    let body = payload(repo, digest);
    let sig = key
        .sign(&body)
        .await
        .map_err(|why| TransferError::Invalid {
            what: "signing".into(),
            why,
        })?;
    let mut layer = Descriptor::of(MEDIA_SIMPLESIGNING, &body);
    layer.annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        base64::engine::general_purpose::STANDARD.encode(sig).into(),
    );
    let tag = signature_tag(digest);
    let mut layers = match client.get_manifest(repo, &tag).await? {
        Some(existing) => serde_json::from_slice::<Manifest>(&existing.bytes)
            .map(|m| m.layers)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    layers.push(layer);
    if !client
        .blob_exists(repo, &layers[layers.len() - 1].digest)
        .await?
    {
        client
            .upload_blob(repo, &layers[layers.len() - 1].digest, body)
            .await?;
    }
    let config_bytes = config_for(&layers);
    let config = Descriptor::of(MEDIA_CONFIG, &config_bytes);
    if !client.blob_exists(repo, &config.digest).await? {
        client
            .upload_blob(repo, &config.digest, config_bytes)
            .await?;
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let sig_digest = client
        .put_manifest(repo, &super::sha256_digest(&bytes), MEDIA_MANIFEST, &bytes)
        .await?;
    // Signatures are the one tag that moves: a new signature is appended, as cosign does.
    client
        .put_manifest(repo, &tag, MEDIA_MANIFEST, &bytes)
        .await?;
    Ok(sig_digest)
}

/// How many of `repo@digest`'s signatures verify with `key` (and name that digest).
pub async fn verify(
    client: &Client,
    repo: &Repo,
    digest: &str,
    key: &VerifyingKey,
) -> Result<(usize, usize), TransferError> {
    client.ping(repo).await?;
    let Some(sigs) = client.get_manifest(repo, &signature_tag(digest)).await? else {
        return Ok((0, 0));
    };
    let manifest: Manifest =
        serde_json::from_slice(&sigs.bytes).map_err(|e| TransferError::Invalid {
            what: format!("{repo}:{}", signature_tag(digest)),
            why: e.to_string(),
        })?;
    let (mut good, mut total) = (0, 0);
    for layer in manifest
        .layers
        .iter()
        .filter(|l| l.media_type == MEDIA_SIMPLESIGNING)
    {
        total += 1;
        let Some(sig) = layer
            .annotations
            .get(SIGNATURE_ANNOTATION)
            .and_then(|s| s.as_str())
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        else {
            continue;
        };
        let body = client.get_blob(repo, &layer.digest).await?;
        let names = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v["critical"]["image"]["docker-manifest-digest"]
                    .as_str()
                    .map(|d| d == digest)
            })
            .unwrap_or(false);
        if names && key.verify(&body, &sig) {
            good += 1;
        }
    }
    Ok((good, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        SigningKey::from_pem(&format!(
            "-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_signature_verifies_with_the_public_pem_and_not_over_other_bytes() {
        let k = key();
        let public = VerifyingKey::from_pem(&k.public_pem()).unwrap();
        let sig = k.sign(b"payload").unwrap();
        assert!(public.verify(b"payload", &sig));
        assert!(!public.verify(b"payloaD", &sig));
        let other = VerifyingKey::from_pem(&key().public_pem()).unwrap();
        assert!(!other.verify(b"payload", &sig));
        assert_eq!(public.public_pem(), k.public_pem());
    }

    #[test]
    fn the_payload_is_cosigns_simple_signing_shape() {
        let repo = Repo::parse("r.example/shop/login").unwrap();
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            String::from_utf8(payload(&repo, d)).unwrap(),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r.example/shop/login"}},"image":{{"docker-manifest-digest":"{d}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        assert_eq!(
            signature_tag(d),
            "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
        );
    }

    #[test]
    fn keys_of_the_wrong_kind_are_refused_with_a_reason() {
        let enc = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
        assert!(matches!(
            SigningKey::from_pem(enc),
            Err(KeyError::Encrypted(_))
        ));
        let k = key();
        assert!(matches!(
            SigningKey::from_pem(&k.public_pem()),
            Err(KeyError::WrongKind { .. })
        ));
        assert!(matches!(
            VerifyingKey::from_pem("nothing"),
            Err(KeyError::NotPem(_))
        ));
        assert!(!format!("{k:?}").contains("PRIVATE"));
    }
}
