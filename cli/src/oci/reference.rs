//! Image references: `registry[:port]/repository[:tag][@sha256:...]`. The registry is never
//! implied (no Docker Hub default): images here go to ECR or a registry named in full.

use std::fmt;

use super::digest_hex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// `host` or `host:port`.
    pub registry: String,
    /// `shop/nonprod/login`.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub repo: Repo,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{input:?} is not an image reference: {why} (expected REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. 127.0.0.1:5000/shop/login)")]
pub struct ParseError {
    pub input: String,
    pub why: String,
}

fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && c.as_bytes()[0].is_ascii_alphanumeric()
}

pub fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && t.as_bytes()[0] != b'.'
        && t.as_bytes()[0] != b'-'
}

impl Repo {
    /// `registry/path` without tag or digest.
    pub fn parse(input: &str) -> Result<Repo, ParseError> {
        let r = Reference::parse(input)?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(ParseError {
                input: input.into(),
                why: "a repository takes no tag or digest here".into(),
            });
        }
        Ok(r.repo)
    }

    /// A repository below this one (`.../nonprod` + `login`).
    pub fn child(&self, name: &str) -> Repo {
        Repo {
            registry: self.registry.clone(),
            path: format!("{}/{name}", self.path),
        }
    }

    /// Loopback registries speak plain HTTP (as Docker treats them); every other one HTTPS.
    pub fn base_url(&self) -> String {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, p)| {
                if p.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    &self.registry
                }
            });
        let loopback = host == "localhost" || host == "[::1]" || host.starts_with("127.");
        let scheme = if loopback { "http" } else { "https" };
        // Docker Hub's name in image references is not where its API answers.
        let api = match self.registry.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            other => other,
        };
        format!("{scheme}://{api}")
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

impl Reference {
    pub fn parse(input: &str) -> Result<Reference, ParseError> {
        let bad = |why: &str| ParseError {
            input: input.into(),
            why: why.into(),
        };
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                digest_hex(d)
                    .ok_or_else(|| bad("the digest must be sha256: and 64 lowercase hex digits"))?;
                (r, Some(d.to_string()))
            }
            None => (input, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no registry host"))?;
        let hostlike = registry.contains('.') || registry.contains(':') || registry == "localhost";
        if !hostlike {
            return Err(bad(
                "the first part must be a registry host (with a dot or a port)",
            ));
        }
        let (path, tag) = match path.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => {
                if !valid_tag(t) {
                    return Err(bad(
                        "the tag may hold letters, digits, '.', '_' and '-' (at most 128)",
                    ));
                }
                (p, Some(t.to_string()))
            }
            _ => (path, None),
        };
        if !path.split('/').all(valid_component) {
            return Err(bad(
                "repository path parts are lowercase letters, digits, '.', '_' and '-'",
            ));
        }
        Ok(Reference {
            repo: Repo {
                registry: registry.to_string(),
                path: path.to_string(),
            },
            tag,
            digest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn references_parse_with_tags_digests_and_ports() {
        let r = Reference::parse(&format!("127.0.0.1:5000/shop/login:1.2@{D}")).unwrap();
        assert_eq!(r.repo.registry, "127.0.0.1:5000");
        assert_eq!(r.repo.path, "shop/login");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.repo.base_url(), "http://127.0.0.1:5000");
        let ecr = Repo::parse("111111111111.dkr.ecr.eu-west-1.amazonaws.com/shop/nonprod").unwrap();
        assert_eq!(
            ecr.base_url(),
            "https://111111111111.dkr.ecr.eu-west-1.amazonaws.com"
        );
        assert_eq!(ecr.child("login").path, "shop/nonprod/login");
        let hub = Repo::parse("docker.io/calico/node").unwrap();
        assert_eq!(hub.base_url(), "https://registry-1.docker.io");
    }

    #[test]
    fn bad_references_say_why() {
        assert!(Reference::parse("login")
            .unwrap_err()
            .why
            .contains("registry"));
        assert!(Reference::parse("shop/login")
            .unwrap_err()
            .why
            .contains("registry host"));
        assert!(Reference::parse("r.io/Shop").is_err());
        assert!(Reference::parse("r.io/shop@sha256:abc").is_err());
        assert!(Reference::parse("r.io/shop:bad tag").is_err());
        assert!(Repo::parse("r.io/shop:1").is_err());
    }
}
