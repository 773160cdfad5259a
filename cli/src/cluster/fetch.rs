//! Third-party releases pinned in the config: fetched once, verified against their SHA-256,
//! and cached by digest under the workspace's state directory. A file whose digest is not the
//! pinned one is refused and never cached; a cached file that no longer matches is fetched
//! again.

use crate::config::releases::{url_allowed, ReleasePin};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest release accepted (the Tigera operator manifest is about 2 MB, the controller
/// chart well under 1 MB).
pub const MAX_BYTES: usize = 64 << 20;
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{field}: {url} is not https (http is accepted only on loopback)")]
    Url { field: String, url: String },
    #[error("{field}: cannot fetch {url}: {message}")]
    Http {
        field: String,
        url: String,
        message: String,
    },
    #[error("{field}: {url} is larger than {} MiB", MAX_BYTES >> 20)]
    TooLarge { field: String, url: String },
    #[error(
        "{field}: refused {url}: its SHA-256 is {got}, but the config pins {expected} \
         (the file changed upstream, or the mirror serves another file)"
    )]
    Digest {
        field: String,
        url: String,
        expected: String,
        got: String,
    },
    #[error("the release cache {path}: {source}")]
    Cache {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            FetchError::Digest { .. } => Some(
                "check the file you vetted (`sha256sum`); update the pin only for a release you \
                 have reviewed",
            ),
            FetchError::Http { .. } => {
                Some("for an air-gapped cluster, point the release's url at your mirror's copy")
            }
            _ => None,
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cache of verified releases, one file per digest.
pub struct ReleaseCache {
    dir: PathBuf,
}

impl ReleaseCache {
    /// `state_dir/cache/releases`.
    pub fn under(state_dir: &Path) -> ReleaseCache {
        ReleaseCache {
            dir: state_dir.join("cache").join("releases"),
        }
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("sha256-{sha256}"))
    }

    fn cache_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
        move |source| FetchError::Cache {
            path: path.display().to_string(),
            source,
        }
    }

    /// The cached copy, if present and still matching its digest.
    fn cached(&self, pin: &ReleasePin) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.path(&pin.sha256)).ok()?;
        (sha256_hex(&bytes) == pin.sha256).then_some(bytes)
    }

    fn store(&self, pin: &ReleasePin, bytes: &[u8]) -> Result<(), FetchError> {
        std::fs::create_dir_all(&self.dir).map_err(Self::cache_err(&self.dir))?;
        let path = self.path(&pin.sha256);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(Self::cache_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Self::cache_err(&path))
    }

    /// The release's bytes: from the cache, else fetched and verified (then cached).
    pub async fn get(&self, field: &str, pin: &ReleasePin) -> Result<Vec<u8>, FetchError> {
        if let Some(bytes) = self.cached(pin) {
            return Ok(bytes);
        }
        let bytes = download(field, &pin.url).await?;
        let got = sha256_hex(&bytes);
        if got != pin.sha256 {
            return Err(FetchError::Digest {
                field: field.into(),
                url: pin.url.clone(),
                expected: pin.sha256.clone(),
                got,
            });
        }
        self.store(pin, &bytes)?;
        Ok(bytes)
    }
}

async fn download(field: &str, url: &str) -> Result<Vec<u8>, FetchError> {
    if !url_allowed(url) {
        return Err(FetchError::Url {
            field: field.into(),
            url: url.into(),
        });
    }
    let http = |message: String| FetchError::Http {
        field: field.into(),
        url: url.into(),
        message,
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            // Release pages redirect to their storage; never from https down to http.
            if attempt.previous().len() > 5 || !url_allowed(attempt.url().as_str()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| http(e.to_string()))?;
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| http(e.without_url().to_string()))?;
    if !response.status().is_success() {
        return Err(http(format!("the server answered {}", response.status())));
    }
    let too_large = || FetchError::TooLarge {
        field: field.into(),
        url: url.into(),
    };
    if response.content_length().unwrap_or(0) > MAX_BYTES as u64 {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| http(e.without_url().to_string()))?
    {
        if bytes.len() + chunk.len() > MAX_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_cache_entry_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ReleaseCache::under(dir.path());
        let body = b"kind: List\n";
        let pin = ReleasePin {
            version: "1".into(),
            url: "https://example.invalid/x".into(),
            sha256: sha256_hex(body),
        };
        cache.store(&pin, body).unwrap();
        assert_eq!(cache.cached(&pin).as_deref(), Some(&body[..]));
        std::fs::write(cache.path(&pin.sha256), b"tampered").unwrap();
        assert!(cache.cached(&pin).is_none());
    }
}
