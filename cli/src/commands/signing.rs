//! `ecomctl sign` and `verify`: keys from a file, the environment or AWS KMS, then `oci::sign`.

use anyhow::{Context, Result};
use serde_json::json;

use super::images::{client, explain, runtime};
use super::Settings;
use crate::cli::{SignArgs, VerifyArgs};
use crate::exit::{Exit, FAILURE, USAGE};
use crate::oci::kms;
use crate::oci::reference::{Reference, Repo};
use crate::oci::sign::{self, Signer, SigningKey, VerifyingKey};
use crate::ui::Ui;

/// The environment variable that may hold the private key itself (PEM).
pub const KEY_ENV: &str = "ECOMCTL_SIGNING_KEY";

fn by_digest(image: &str) -> Result<(Repo, String)> {
    let r = Reference::parse(image).map_err(|e| Exit::new(USAGE, e.to_string()))?;
    let digest = r.digest.ok_or_else(|| {
        Exit::new(
            USAGE,
            format!("{image}: sign and verify take an image by digest (…@sha256:…), never a tag"),
        )
        .hint("`ecomctl push` prints REPOSITORY@DIGEST")
    })?;
    Ok((r.repo, digest))
}

/// A KMS key named `awskms:///...`: the region from its ARN, else AWS_REGION, else the config's
/// primary region; `AWS_ENDPOINT_URL` honoured.
fn kms_key(settings: &Settings, rt: &tokio::runtime::Runtime, uri: &str) -> Result<kms::KmsKey> {
    let (key_id, arn_region) =
        kms::parse_uri(uri).map_err(|e| Exit::new(USAGE, format!("--key: {e}")))?;
    let region = arn_region
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .or_else(|| {
            settings
                .config
                .exists()
                .then(|| settings.load_config().ok())
                .flatten()
                .map(|l| l.config.regions.primary)
        })
        .ok_or_else(|| {
            Exit::new(USAGE, format!("no AWS region for the KMS key {key_id}"))
                .hint("set AWS_REGION, or name the key by its ARN")
        })?;
    let endpoint = settings.run.aws_endpoint.as_deref();
    let config = rt.block_on(crate::oci::ecr::sdk_config(region, endpoint));
    Ok(kms::KmsKey::new(&config, key_id))
}

fn signing_key(
    settings: &Settings,
    rt: &tokio::runtime::Runtime,
    args: &SignArgs,
) -> Result<Signer> {
    if let Some(uri) = args
        .key
        .as_deref()
        .and_then(|p| p.to_str())
        .filter(|k| kms::is_kms(k))
    {
        return Ok(Signer::Kms(kms_key(settings, rt, uri)?));
    }
    let (text, from) = match &args.key {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the key {}", path.display()))?,
            path.display().to_string(),
        ),
        None => match std::env::var(KEY_ENV) {
            Ok(pem) if !pem.trim().is_empty() => (pem, KEY_ENV.to_string()),
            _ => {
                return Err(Exit::new(USAGE, "no signing key")
                    .hint(format!(
                        "give --key FILE (or awskms:///alias/NAME), or the PEM in {KEY_ENV}"
                    ))
                    .into())
            }
        },
    };
    SigningKey::from_pem(&text)
        .map(|k| Signer::Key(Box::new(k)))
        .map_err(|e| Exit::new(USAGE, format!("the signing key from {from}: {e}")).into())
}

/// A KMS call's failure: exit 1 with what the role needs.
fn kms_failed(e: kms::KmsError, doing: &str) -> anyhow::Error {
    anyhow::Error::new(e).context(
        Exit::new(FAILURE, doing.to_string())
            .hint("the role needs kms:Sign / kms:GetPublicKey on an ECC_NIST_P256 SIGN_VERIFY key"),
    )
}

pub fn sign(settings: &Settings, args: &SignArgs, ui: &Ui) -> Result<()> {
    let rt = runtime()?;
    let key = signing_key(settings, &rt, args)?;
    if args.public_key {
        let pem = match &key {
            Signer::Key(k) => k.public_pem(),
            Signer::Kms(k) => rt
                .block_on(k.public_key())
                .map_err(|e| kms_failed(e, "reading the KMS key's public half"))?
                .public_pem(),
        };
        ui.data(&pem);
        return Ok(());
    }
    let image = args.image.as_deref().unwrap_or_default();
    let (repo, digest) = by_digest(image)?;
    let client = client(settings, &args.auth, &[&repo.registry])?;
    ui.status("signing", &format!("{repo}@{digest}"));
    let sig = rt
        .block_on(sign::sign(&client, &repo, &digest, &key))
        .map_err(|e| explain(e, format!("signing {repo}@{digest}")))?;
    ui.status(
        "signed",
        &format!("{repo}:{}", sign::signature_tag(&digest)),
    );
    ui.event(
        "image_signed",
        json!({"repository": repo.to_string(), "digest": digest, "signature_tag": sign::signature_tag(&digest), "signature_manifest": sig}),
    );
    Ok(())
}

pub fn verify(settings: &Settings, args: &VerifyArgs, ui: &Ui) -> Result<()> {
    let (repo, digest) = by_digest(&args.image)?;
    let rt = runtime()?;
    let key = match args.key.to_str().filter(|k| kms::is_kms(k)) {
        Some(uri) => rt
            .block_on(kms_key(settings, &rt, uri)?.public_key())
            .map_err(|e| kms_failed(e, "reading the KMS key's public half"))?,
        None => {
            let text = std::fs::read_to_string(&args.key)
                .with_context(|| format!("reading the key {}", args.key.display()))?;
            VerifyingKey::from_pem(&text).map_err(|e| {
                Exit::new(USAGE, format!("the public key {}: {e}", args.key.display()))
            })?
        }
    };
    let client = client(settings, &args.auth, &[&repo.registry])?;
    let (good, total) = rt
        .block_on(sign::verify(&client, &repo, &digest, &key))
        .map_err(|e| explain(e, format!("verifying {repo}@{digest}")))?;
    ui.event(
        "image_verified",
        json!({"repository": repo.to_string(), "digest": digest, "valid": good, "signatures": total}),
    );
    if good == 0 {
        let why = if total == 0 {
            "it has no signature".to_string()
        } else {
            format!(
                "none of its {total} signature(s) verifies with {}",
                args.key.display()
            )
        };
        return Err(Exit::new(
            FAILURE,
            format!("{repo}@{digest} is not signed by this key: {why}"),
        )
        .into());
    }
    ui.status(
        "verified",
        &format!("{repo}@{digest}: {good} of {total} signature(s) by the key"),
    );
    Ok(())
}
