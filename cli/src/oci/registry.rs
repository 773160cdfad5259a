//! The OCI distribution API, as far as pushing, pulling and copying by digest need it: blobs
//! (HEAD, GET, monolithic upload), manifests (HEAD, GET, PUT), with Basic or Bearer auth answered
//! on the first 401 and remembered per registry and scope.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode};

use super::auth::{parse_challenge, Challenge, DockerConfig};
use super::reference::Repo;
use super::{sha256_digest, MEDIA_DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach the registry {registry}: {why}")]
    Unreachable { registry: String, why: String },
    #[error("the registry {registry} refused the credentials for {scope}: {why}")]
    Unauthorized {
        registry: String,
        scope: String,
        why: String,
    },
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("{what}: the registry sent content that hashes to {actual}")]
    DigestMismatch { what: String, actual: String },
}

impl RegistryError {
    pub fn is_auth(&self) -> bool {
        matches!(self, RegistryError::Unauthorized { .. })
    }
}

/// A manifest as fetched: its media type, bytes and digest (of the bytes).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: String,
}

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

pub struct Client {
    http: reqwest::Client,
    config: DockerConfig,
    /// `Authorization` values per `registry scope`.
    auth: Mutex<HashMap<String, String>>,
}

/// What a request sends; rebuilt for the retry after a challenge.
struct Req<'a> {
    method: Method,
    url: String,
    repo: &'a Repo,
    push: bool,
    content_type: Option<&'a str>,
    body: Option<Vec<u8>>,
    accept: bool,
}

impl<'a> Req<'a> {
    /// A request that needs the `pull` scope.
    fn pull(method: Method, url: String, repo: &'a Repo) -> Req<'a> {
        Req {
            method,
            url,
            repo,
            push: false,
            content_type: None,
            body: None,
            accept: false,
        }
    }

    /// A request that needs the `pull,push` scope.
    fn push(method: Method, url: String, repo: &'a Repo) -> Req<'a> {
        Req {
            push: true,
            ..Req::pull(method, url, repo)
        }
    }

    fn body(self, content_type: &'a str, body: Vec<u8>) -> Req<'a> {
        self.maybe_body(content_type, Some(body))
    }

    fn maybe_body(mut self, content_type: &'a str, body: Option<Vec<u8>>) -> Req<'a> {
        self.content_type = Some(content_type);
        self.body = body;
        self
    }

    /// Asks for every manifest and index media type ecomctl reads.
    fn accepting(mut self) -> Req<'a> {
        self.accept = true;
        self
    }
}

impl Client {
    pub fn new(config: DockerConfig) -> Result<Client, RegistryError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("ecomctl/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| RegistryError::Unreachable {
                registry: "-".into(),
                why: e.to_string(),
            })?;
        Ok(Client {
            http,
            config,
            auth: Mutex::new(HashMap::new()),
        })
    }

    fn scope(repo: &Repo, push: bool) -> String {
        let actions = if push { "pull,push" } else { "pull" };
        format!("repository:{}:{actions}", repo.path)
    }

    fn key(repo: &Repo, push: bool) -> String {
        format!("{} {}", repo.registry, Client::scope(repo, push))
    }

    async fn send_once(
        &self,
        r: &Req<'_>,
        range: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut b = self.http.request(r.method.clone(), &r.url);
        if let Some(range) = range {
            b = b.header("Content-Range", range);
        }
        if let Some(ct) = r.content_type {
            b = b.header("Content-Type", ct);
        }
        if r.accept {
            b = b.header("Accept", ACCEPT);
        }
        if let Some(body) = &r.body {
            b = b.body(body.clone());
        }
        let cached = self
            .auth
            .lock()
            .ok()
            .and_then(|m| m.get(&Client::key(r.repo, r.push)).cloned());
        if let Some(h) = cached {
            b = b.header("Authorization", h);
        }
        b.send().await.map_err(|e| RegistryError::Unreachable {
            registry: r.repo.registry.clone(),
            why: error_chain(&e),
        })
    }

    /// Sends; on a 401 answers the challenge once and sends again.
    async fn send(&self, r: Req<'_>) -> Result<reqwest::Response, RegistryError> {
        self.send_with(r, None).await
    }

    /// As `send`, with a `Content-Range` header (a chunk of an upload).
    async fn send_with(
        &self,
        r: Req<'_>,
        range: Option<String>,
    ) -> Result<reqwest::Response, RegistryError> {
        let range = range.as_deref();
        let resp = self.send_once(&r, range).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get("WWW-Authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let header = self.answer(r.repo, r.push, challenge).await?;
        if let Ok(mut m) = self.auth.lock() {
            m.insert(Client::key(r.repo, r.push), header);
        }
        let resp = self.send_once(&r, range).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(RegistryError::Unauthorized {
                registry: r.repo.registry.clone(),
                scope: Client::scope(r.repo, r.push),
                why: "the registry said 401 to the credentials given".into(),
            });
        }
        Ok(resp)
    }

    async fn answer(
        &self,
        repo: &Repo,
        push: bool,
        challenge: Option<Challenge>,
    ) -> Result<String, RegistryError> {
        let scope = Client::scope(repo, push);
        let unauthorized = |why: String| RegistryError::Unauthorized {
            registry: repo.registry.clone(),
            scope: scope.clone(),
            why,
        };
        let creds = self.config.get(&repo.registry);
        match challenge {
            Some(Challenge::Basic) => creds.map(|c| c.basic_header()).ok_or_else(|| {
                unauthorized("it asks for a login and the Docker config has none for it".into())
            }),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let mut q = vec![("scope", scope.clone())];
                if let Some(s) = service {
                    q.push(("service", s));
                }
                let mut b = self.http.get(&realm).query(&q);
                if let Some(c) = creds {
                    b = b.header("Authorization", c.basic_header());
                }
                let resp = b.send().await.map_err(|e| {
                    unauthorized(format!("token service {realm}: {}", error_chain(&e)))
                })?;
                if !resp.status().is_success() {
                    return Err(unauthorized(format!(
                        "token service {realm}: HTTP {}",
                        resp.status()
                    )));
                }
                let v: serde_json::Value =
                    resp.json().await.map_err(|e| unauthorized(e.to_string()))?;
                let token = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| {
                        unauthorized(format!("token service {realm}: no token in the answer"))
                    })?;
                Ok(format!("Bearer {token}"))
            }
            None => Err(unauthorized(
                "401 without a challenge ecomctl understands".into(),
            )),
        }
    }

    fn url(repo: &Repo, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", repo.base_url(), repo.path)
    }

    /// `GET /v2/`: the registry answers (any status but a connection error counts).
    pub async fn ping(&self, repo: &Repo) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", repo.base_url());
        self.http
            .get(&url)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| RegistryError::Unreachable {
                registry: repo.registry.clone(),
                why: error_chain(&e),
            })
    }

    pub async fn blob_exists(&self, repo: &Repo, digest: &str) -> Result<bool, RegistryError> {
        let url = Client::url(repo, &format!("blobs/{digest}"));
        let resp = self.send(Req::push(Method::HEAD, url, repo)).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(status_error(
                format!("checking blob {digest} in {repo}"),
                s,
                String::new(),
            )),
        }
    }

    pub async fn get_blob(&self, repo: &Repo, digest: &str) -> Result<Vec<u8>, RegistryError> {
        let url = Client::url(repo, &format!("blobs/{digest}"));
        let what = format!("blob {digest} of {repo}");
        let resp = self.send(Req::pull(Method::GET, url, repo)).await?;
        let resp = ok_or_status(resp, &what).await?;
        let bytes = resp.bytes().await.map_err(|e| RegistryError::Unreachable {
            registry: repo.registry.clone(),
            why: error_chain(&e),
        })?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(RegistryError::DigestMismatch { what, actual });
        }
        Ok(bytes.to_vec())
    }

    /// Uploads a blob: `POST .../blobs/uploads/`, then for a blob up to `CHUNK` bytes one
    /// `PUT <location>?digest=` with the bytes (monolithic); for a larger one `PATCH` chunks of
    /// `CHUNK` bytes (each to the location the previous answer gave), then the closing `PUT`.
    pub async fn upload_blob(
        &self,
        repo: &Repo,
        digest: &str,
        bytes: Vec<u8>,
    ) -> Result<(), RegistryError> {
        let what = format!("uploading blob {digest} to {repo}");
        let url = Client::url(repo, "blobs/uploads/");
        let resp = self.send(Req::push(Method::POST, url, repo)).await?;
        let resp = ok_or_status(resp, &what).await?;
        let mut location = location_of(&resp, repo, &what)?;
        let body = if bytes.len() > CHUNK {
            for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
                let start = i * CHUNK;
                let range = format!("{start}-{}", start + chunk.len() - 1);
                let resp = self
                    .send_with(
                        Req::push(Method::PATCH, location.clone(), repo)
                            .body("application/octet-stream", chunk.to_vec()),
                        Some(range),
                    )
                    .await?;
                let resp = ok_or_status(resp, &what).await?;
                location = location_of(&resp, repo, &what)?;
            }
            None
        } else {
            Some(bytes)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let resp = self
            .send(Req::push(Method::PUT, url, repo).maybe_body("application/octet-stream", body))
            .await?;
        ok_or_status(resp, &what).await.map(|_| ())
    }

    /// Asks `repo` to take the blob from `from` on the same registry without an upload
    /// (`POST .../blobs/uploads/?mount=&from=`). `false` when the registry declines (it then
    /// opens an upload session instead, which is cancelled).
    pub async fn mount_blob(
        &self,
        repo: &Repo,
        digest: &str,
        from: &Repo,
    ) -> Result<bool, RegistryError> {
        let what = format!("mounting blob {digest} from {from} into {repo}");
        let url = Client::url(
            repo,
            &format!("blobs/uploads/?mount={digest}&from={}", from.path),
        );
        let resp = self.send(Req::push(Method::POST, url, repo)).await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(true);
        }
        let resp = ok_or_status(resp, &what).await?;
        if let Ok(session) = location_of(&resp, repo, &what) {
            let _ = self.send(Req::push(Method::DELETE, session, repo)).await;
        }
        Ok(false)
    }

    /// The manifest `reference` (tag or digest) names, or `None` when there is none.
    pub async fn get_manifest(
        &self,
        repo: &Repo,
        reference: &str,
    ) -> Result<Option<Fetched>, RegistryError> {
        let url = Client::url(repo, &format!("manifests/{reference}"));
        let what = format!("manifest {repo}:{reference}");
        let resp = self
            .send(Req::pull(Method::GET, url, repo).accepting())
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = ok_or_status(resp, &what).await?;
        let media_type = resp
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(MEDIA_MANIFEST)
            .to_string();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| RegistryError::Unreachable {
                registry: repo.registry.clone(),
                why: error_chain(&e),
            })?
            .to_vec();
        let digest = sha256_digest(&bytes);
        if reference.starts_with("sha256:") && digest != reference {
            return Err(RegistryError::DigestMismatch {
                what,
                actual: digest,
            });
        }
        Ok(Some(Fetched {
            media_type,
            bytes,
            digest,
        }))
    }

    /// The referrers of `digest` through the referrers API (`GET /v2/<name>/referrers/<digest>`,
    /// distribution spec 1.1): `None` when the registry does not have the API (it answers 404;
    /// a registry that has it answers 200 with an index, empty when nothing refers).
    pub async fn referrers(
        &self,
        repo: &Repo,
        digest: &str,
    ) -> Result<Option<super::Index>, RegistryError> {
        let url = Client::url(repo, &format!("referrers/{digest}"));
        let what = format!("referrers of {repo}@{digest}");
        let resp = self.send(Req::pull(Method::GET, url, repo)).await?;
        if matches!(
            resp.status(),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        ) {
            return Ok(None);
        }
        let resp = ok_or_status(resp, &what).await?;
        let bytes = resp.bytes().await.map_err(|e| RegistryError::Unreachable {
            registry: repo.registry.clone(),
            why: error_chain(&e),
        })?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RegistryError::Status {
                what,
                status: 200,
                body: format!("not an image index: {e}"),
            })
    }

    /// Stores a manifest under `reference` (a digest or a tag); returns its digest.
    pub async fn put_manifest(
        &self,
        repo: &Repo,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, RegistryError> {
        self.put_manifest_subject(repo, reference, media_type, bytes)
            .await
            .map(|(d, _)| d)
    }

    /// As `put_manifest`; also whether the registry indexed the manifest's `subject` itself
    /// (it answers with an `OCI-Subject` header when it implements the referrers API).
    pub async fn put_manifest_subject(
        &self,
        repo: &Repo,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(String, bool), RegistryError> {
        let url = Client::url(repo, &format!("manifests/{reference}"));
        let what = format!("storing manifest {repo}:{reference}");
        let resp = self
            .send(Req::push(Method::PUT, url, repo).body(media_type, bytes.to_vec()))
            .await?;
        let resp = ok_or_status(resp, &what).await?;
        let indexed = resp.headers().contains_key("OCI-Subject");
        Ok((sha256_digest(bytes), indexed))
    }
}

/// Whether a media type is one ecomctl copies as a manifest.
pub fn is_manifest_type(media_type: &str) -> bool {
    [MEDIA_MANIFEST, MEDIA_INDEX, MEDIA_DOCKER_MANIFEST].contains(&media_type)
}

/// Blobs larger than this are uploaded in chunks of this size.
pub const CHUNK: usize = 4 << 20;

/// The absolute upload URL a registry answered with (`Location`, often a path).
fn location_of(resp: &reqwest::Response, repo: &Repo, what: &str) -> Result<String, RegistryError> {
    let loc = resp
        .headers()
        .get("Location")
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| {
            status_error(what.to_string(), resp.status(), "no Location header".into())
        })?;
    Ok(if loc.starts_with('/') {
        format!("{}{loc}", repo.base_url())
    } else {
        loc.to_string()
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn status_error(what: String, status: StatusCode, body: String) -> RegistryError {
    RegistryError::Status {
        what,
        status: status.as_u16(),
        body,
    }
}

async fn ok_or_status(
    resp: reqwest::Response,
    what: &str,
) -> Result<reqwest::Response, RegistryError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Err(status_error(
        what.to_string(),
        status,
        body.trim().to_string(),
    ))
}
