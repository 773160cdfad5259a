//! Secrets of the dev services (each calling client's own secret, the webhook secret, login's
//! key-encryption key), made once per workspace in `.ecomctl/dev/secrets.env` (mode 0600) so
//! login's signing key, stored encrypted, survives restarts. `--reset` makes new ones. A file
//! from before per-service identities (with the old shared `SERVICE_TOKEN`) gets the client
//! secrets added, and loses the shared token.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::services::DevSecrets;
use crate::exit::{Exit, FAILURE};

fn random(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (what login's `LOGIN_KEY_ENCRYPTION_KEY` expects).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The secrets in `text`; the client secrets are `None` when the file predates them.
fn parse(text: &str, path: &Path) -> Result<(DevSecrets, bool)> {
    let find = |key: &str| -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let get = |key: &str| -> Result<String> {
        find(key).ok_or_else(|| {
            Exit::new(
                FAILURE,
                format!("{}: {key} is missing or empty", path.display()),
            )
            .hint("run `ecomctl dev --reset` to start over with fresh databases and secrets")
            .into()
        })
    };
    let orders = find("ORDERS_CLIENT_SECRET");
    let tools = find("TOOLS_CLIENT_SECRET");
    let complete = orders.is_some() && tools.is_some() && find("SERVICE_TOKEN").is_none();
    Ok((
        DevSecrets {
            orders_client_secret: orders.unwrap_or_else(|| hex(&random(32).unwrap_or_default())),
            tools_client_secret: tools.unwrap_or_else(|| hex(&random(32).unwrap_or_default())),
            webhook_secret: get("PAYMENTS_WEBHOOK_SECRET")?,
            login_kek: get("LOGIN_KEY_ENCRYPTION_KEY")?,
        },
        complete,
    ))
}

/// Reads the workspace's secrets, making them when absent (or when `fresh`).
pub fn load_or_create(path: &Path, fresh: bool) -> Result<DevSecrets> {
    if !fresh && path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let (s, complete) = parse(&text, path)?;
        if s.orders_client_secret.len() < 64 || s.tools_client_secret.len() < 64 {
            // (random() failed while upgrading: no short secret is ever written)
            return Err(Exit::new(FAILURE, "could not make the client secrets").into());
        }
        if !complete {
            write(path, &s)?;
        }
        return Ok(s);
    }
    let s = DevSecrets {
        orders_client_secret: hex(&random(32)?),
        tools_client_secret: hex(&random(32)?),
        webhook_secret: hex(&random(24)?),
        login_kek: base64(&random(32)?),
    };
    write(path, &s)?;
    Ok(s)
}

/// Writes the secrets (mode 0600, replaced whole).
fn write(path: &Path, s: &DevSecrets) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    writeln!(
        f,
        "# ecomctl dev: secrets of the local services. Not for production.\nORDERS_CLIENT_SECRET={}\nTOOLS_CLIENT_SECRET={}\nPAYMENTS_WEBHOOK_SECRET={}\nLOGIN_KEY_ENCRYPTION_KEY={}",
        s.orders_client_secret, s.tools_client_secret, s.webhook_secret, s.login_kek
    )
    .and_then(|_| f.sync_all())
    .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn secrets_are_made_once_and_a_damaged_file_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dev/secrets.env");
        let a = load_or_create(&path, false).expect("made");
        let b = load_or_create(&path, false).expect("read");
        assert_eq!(a.orders_client_secret, b.orders_client_secret);
        assert_eq!(a.tools_client_secret, b.tools_client_secret);
        assert_ne!(a.orders_client_secret, a.tools_client_secret);
        assert_eq!(a.login_kek.len(), 44);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, "ORDERS_CLIENT_SECRET=x\n").expect("damage");
        let err = load_or_create(&path, false).expect_err("damaged");
        assert!(
            err.to_string()
                .contains("PAYMENTS_WEBHOOK_SECRET is missing"),
            "{err}"
        );
        let c = load_or_create(&path, true).expect("fresh");
        assert_ne!(c.orders_client_secret, a.orders_client_secret);
    }

    #[test]
    fn a_file_with_the_old_shared_token_gets_client_secrets_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets.env");
        std::fs::write(
            &path,
            "SERVICE_TOKEN=old\nPAYMENTS_WEBHOOK_SECRET=w\nLOGIN_KEY_ENCRYPTION_KEY=k\n",
        )
        .expect("old file");
        let s = load_or_create(&path, false).expect("upgraded");
        assert_eq!(
            (s.webhook_secret.as_str(), s.login_kek.as_str()),
            ("w", "k")
        );
        assert_eq!(s.orders_client_secret.len(), 64);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("SERVICE_TOKEN"), "{text}");
        let again = load_or_create(&path, false).expect("read");
        assert_eq!(again.orders_client_secret, s.orders_client_secret);
    }
}
