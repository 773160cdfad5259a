//! `ecomctl sign` and `verify`: keys from a file or the environment, then `oci::sign`.

use anyhow::{Context, Result};
use serde_json::json;

use super::images::{client, explain, runtime};
use super::Settings;
use crate::cli::{SignArgs, VerifyArgs};
use crate::exit::{Exit, FAILURE, USAGE};
use crate::oci::reference::{Reference, Repo};
use crate::oci::sign::{self, SigningKey, VerifyingKey};
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

fn signing_key(args: &SignArgs) -> Result<SigningKey> {
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
                    .hint(format!("give --key FILE, or the PEM in {KEY_ENV}"))
                    .into())
            }
        },
    };
    SigningKey::from_pem(&text)
        .map_err(|e| Exit::new(USAGE, format!("the signing key from {from}: {e}")).into())
}

pub fn sign(settings: &Settings, args: &SignArgs, ui: &Ui) -> Result<()> {
    let key = signing_key(args)?;
    if args.public_key {
        ui.data(&key.public_pem());
        return Ok(());
    }
    let image = args.image.as_deref().unwrap_or_default();
    let (repo, digest) = by_digest(image)?;
    let client = client(settings, &args.auth, &[&repo.registry])?;
    ui.status("signing", &format!("{repo}@{digest}"));
    let sig = runtime()?
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
    let text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading the key {}", args.key.display()))?;
    let key = VerifyingKey::from_pem(&text)
        .map_err(|e| Exit::new(USAGE, format!("the public key {}: {e}", args.key.display())))?;
    let client = client(settings, &args.auth, &[&repo.registry])?;
    let (good, total) = runtime()?
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
