//! Secrets the dev services share (service token, webhook secret, login's key-encryption
//! key), made once per workspace in `.ecomctl/dev/secrets.env` (mode 0600) so login's signing
//! key, stored encrypted, survives restarts. `--reset` makes new ones.

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

fn parse(text: &str, path: &Path) -> Result<DevSecrets> {
    let get = |key: &str| -> Result<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                Exit::new(
                    FAILURE,
                    format!("{}: {key} is missing or empty", path.display()),
                )
                .hint("run `ecomctl dev --reset` to start over with fresh databases and secrets")
                .into()
            })
    };
    Ok(DevSecrets {
        service_token: get("SERVICE_TOKEN")?,
        webhook_secret: get("PAYMENTS_WEBHOOK_SECRET")?,
        login_kek: get("LOGIN_KEY_ENCRYPTION_KEY")?,
    })
}

/// Reads the workspace's secrets, making them when absent (or when `fresh`).
pub fn load_or_create(path: &Path, fresh: bool) -> Result<DevSecrets> {
    if !fresh && path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return parse(&text, path);
    }
    let s = DevSecrets {
        service_token: hex(&random(24)?),
        webhook_secret: hex(&random(24)?),
        login_kek: base64(&random(32)?),
    };
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
        "# ecomctl dev: secrets shared by the local services. Not for production.\nSERVICE_TOKEN={}\nPAYMENTS_WEBHOOK_SECRET={}\nLOGIN_KEY_ENCRYPTION_KEY={}",
        s.service_token, s.webhook_secret, s.login_kek
    )
    .and_then(|_| f.sync_all())
    .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(s)
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
        assert_eq!(a.service_token, b.service_token);
        assert_eq!(a.login_kek.len(), 44);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, "SERVICE_TOKEN=x\n").expect("damage");
        let err = load_or_create(&path, false).expect_err("damaged");
        assert!(
            err.to_string()
                .contains("PAYMENTS_WEBHOOK_SECRET is missing"),
            "{err}"
        );
        let c = load_or_create(&path, true).expect("fresh");
        assert_ne!(c.service_token, a.service_token);
    }
}
