//! The config file: it loads, holds no inline secret, and production environments keep the
//! availability settings an auditor expects.

use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use crate::config::{Config, Environment, Loaded};

/// Keys whose value is a secret when written inline.
const SECRET_KEYS: [&str; 8] = [
    "password",
    "secret",
    "token",
    "private_key",
    "access_key",
    "secret_access_key",
    "api_key",
    "client_secret",
];

/// Inline secrets in the config text: `(line, what)` for each. A secret key whose value is a
/// mapping (`{env: ...}` / `{secret_arn: ...}`) is a reference and fine; a scalar is not. AWS
/// access key ids and private key blocks are found wherever they are.
pub fn inline_secrets(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let key_id = regex::Regex::new(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b").ok();
    for (i, line) in text.lines().enumerate() {
        let code = line
            .split(" #")
            .next()
            .unwrap_or("")
            .trim_start_matches(['-', ' ']);
        if code.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = code.split_once(':') {
            let key = key.trim().trim_matches(['"', '\'']).to_ascii_lowercase();
            let value = value.trim();
            let secretish = SECRET_KEYS
                .iter()
                .any(|k| key == *k || key.ends_with(&format!("_{k}")));
            let scalar =
                !value.is_empty() && !value.starts_with('{') && value != "null" && value != "~";
            if secretish && scalar {
                out.push((i + 1, format!("`{key}` has an inline value")));
            }
        }
        if key_id.as_ref().is_some_and(|re| re.is_match(line)) {
            out.push((i + 1, "an AWS access key id".to_string()));
        }
        if line.contains("PRIVATE KEY-----") {
            out.push((i + 1, "a private key block".to_string()));
        }
    }
    out
}

/// Production: an environment named `prod*` or with deletion protection asked for.
pub fn is_prod(name: &str, env: &Environment) -> bool {
    name.starts_with("prod") || env.deletion_protection == Some(true)
}

/// The production-settings outcomes for one environment.
pub fn prod_settings(name: &str, env: &Environment) -> Vec<Outcome> {
    let res = format!("env:{name}");
    if !is_prod(name, env) {
        let why = "not a production environment";
        return ["ECOM-DOC-CFG-003", "ECOM-DOC-CFG-004", "ECOM-DOC-CFG-005"]
            .iter()
            .map(|id| Outcome::skip(id, res.clone(), why))
            .collect();
    }
    let protection = env.deletion_protection.unwrap_or(true);
    let days = env.rds.backup_retention_days;
    vec![
        Outcome::verdict(
            "ECOM-DOC-CFG-003",
            env.rds.multi_az,
            res.clone(),
            format!("rds.multi_az is {}", env.rds.multi_az),
        ),
        Outcome::verdict(
            "ECOM-DOC-CFG-004",
            protection,
            res.clone(),
            format!("deletion_protection is {protection}"),
        ),
        Outcome::verdict(
            "ECOM-DOC-CFG-005",
            days >= 7,
            res,
            format!("rds.backup_retention_days is {days} (at least 7)"),
        ),
    ]
}

/// prod's image gate (the cluster stage's `cluster::provenance`): a readable P-256 public key
/// to verify signatures with, and the environment digests must have been deployed to.
pub fn image_provenance(name: &str, loaded: &Loaded) -> Outcome {
    let id = "ECOM-DOC-CFG-006";
    let res = format!("env:{name}");
    if !Environment::is_prod(name) {
        return Outcome::skip(
            id,
            res,
            "not prod (the image gate holds for the environment named prod)",
        );
    }
    let Some(env) = loaded.config.environments.get(name) else {
        return Outcome::skip(id, res, "not an environment of the config");
    };
    let from = env.images.promoted_from.as_deref().unwrap_or("nonprod");
    match crate::cluster::provenance::verify_key(loaded, name) {
        Err(e) => Outcome::fail(id, res, format!("{e}: prod's cluster stage refuses to deploy")),
        Ok(_) if !loaded.config.environments.contains_key(from) => Outcome::fail(
            id,
            res,
            format!("images.promoted_from names {from}, which is not an environment of the config"),
        ),
        Ok(_) => Outcome::pass(
            id,
            res,
            format!("images signed by environments.{name}.images.verify_key and deployed to {from} first"),
        ),
    }
}

pub fn run(ctx: &Context) -> GroupRun {
    let mut run = GroupRun::default();
    let file = ctx.config_path.display().to_string();
    let loaded = match &ctx.config {
        Ok(l) => l,
        Err(f) => {
            let detail = run.evidence(Evidence::text("config/diagnostics.txt", f.lines.join("\n")));
            let mut msg = f.message.clone();
            if let Some(first) = f.lines.first() {
                msg.push_str(&format!("; first: {first}"));
            }
            run.push(Outcome::fail("ECOM-DOC-CFG-001", file.clone(), msg).with_evidence(&detail));
            for id in [
                "ECOM-DOC-CFG-002",
                "ECOM-DOC-CFG-003",
                "ECOM-DOC-CFG-004",
                "ECOM-DOC-CFG-005",
                "ECOM-DOC-CFG-006",
            ] {
                run.push(Outcome::skip(
                    id,
                    file.clone(),
                    "skipped: the config does not load",
                ));
            }
            return run;
        }
    };
    let text = std::fs::read_to_string(&loaded.path).unwrap_or_default();
    let ev = run.evidence(Evidence::json("config/effective.json", &loaded.json));
    run.push(
        Outcome::pass("ECOM-DOC-CFG-001", file.clone(), "loads and validates").with_evidence(&ev),
    );
    let secrets = inline_secrets(&text);
    run.push(
        Outcome::verdict(
            "ECOM-DOC-CFG-002",
            secrets.is_empty(),
            file.clone(),
            if secrets.is_empty() {
                "no inline secret".to_string()
            } else {
                secrets
                    .iter()
                    .map(|(line, what)| format!("{file}:{line}: {what}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        )
        .with_evidence(&ev),
    );
    let config: &Config = &loaded.config;
    for name in &ctx.envs {
        if let Some(env) = config.environments.get(name) {
            for o in prod_settings(name, env) {
                run.push(o.with_evidence(&ev));
            }
            run.push(image_provenance(name, loaded).with_evidence(&ev));
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_secrets_are_found_and_references_are_not() {
        let text = "cognito:\n  smoke_test_user:\n    temp_password:\n      env: X\n    db_password: hunter2\n# password: old\nkey: AKIAABCDEFGHIJKLMNOP\n";
        let found = inline_secrets(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, 5);
        assert!(found[1].1.contains("access key"));
        assert!(inline_secrets("temp_password: {env: X}\n").is_empty());
    }

    #[test]
    fn prod_image_provenance_needs_a_readable_verify_key() {
        use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecomctl.yaml");
        let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/full.yaml");
        std::fs::copy(full, &path).unwrap();
        let mut loaded = crate::config::load(&path).unwrap();
        let status = |o: Outcome| o.status.as_str();
        assert_eq!(status(image_provenance("nonprod", &loaded)), "skip");
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        assert_eq!(
            status(image_provenance("prod", &loaded)),
            "fail",
            "no key file"
        );
        std::fs::write(dir.path().join("keys/cosign.pub"), "not a key").unwrap();
        assert_eq!(status(image_provenance("prod", &loaded)), "fail");
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let b64 =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pkcs8.as_ref());
        let key = crate::oci::sign::SigningKey::from_pem(&format!(
            "-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"
        ))
        .unwrap();
        std::fs::write(dir.path().join("keys/cosign.pub"), key.public_pem()).unwrap();
        assert_eq!(status(image_provenance("prod", &loaded)), "pass");
        let prod = loaded.config.environments.get_mut("prod").unwrap();
        prod.images.verify_key = None;
        assert_eq!(status(image_provenance("prod", &loaded)), "fail");
    }
}
