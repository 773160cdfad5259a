//! A registry client holding the credentials the named hosts need: the Docker config's `auths`,
//! and, for an ECR host the Docker config has no login for, a token from ECR
//! `GetAuthorizationToken` with the ambient AWS credentials.

use super::auth::{AuthError, DockerConfig};
use super::ecr::{self, EcrError};
use super::registry::{Client, RegistryError};

/// Where credentials come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// ECR hosts without a Docker-config login: ECR; the others: the Docker config.
    Auto,
    /// The Docker config only.
    Docker,
    /// ECR for every host named.
    Ecr,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("reading the Docker config for registry credentials: {0}")]
    DockerConfig(#[from] AuthError),
    #[error("getting registry credentials for {host} from ECR: {source}")]
    Ecr {
        host: String,
        #[source]
        source: EcrError,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The client for `hosts`.
pub async fn client(
    hosts: &[&str],
    source: Source,
    aws_endpoint: Option<&str>,
) -> Result<Client, AccessError> {
    let mut config = DockerConfig::load()?;
    for host in hosts {
        let use_ecr = match source {
            Source::Docker => false,
            Source::Ecr => true,
            Source::Auto => ecr::ecr_host(host).is_some() && config.get(host).is_none(),
        };
        if use_ecr {
            let creds = ecr::credentials(host, aws_endpoint)
                .await
                .map_err(|source| AccessError::Ecr {
                    host: host.to_string(),
                    source,
                })?;
            config = config.with(host, creds);
        }
    }
    Ok(Client::new(config)?)
}
