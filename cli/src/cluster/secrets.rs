//! Secrets synced into the cluster at apply time: the database credentials, from the secret RDS
//! manages in Secrets Manager (the app stage's `db_secret_arn`), into `db-credentials` in the
//! release namespace. The value goes from the Secrets Manager answer straight into the
//! server-side apply: never to a file (plans hold only where a Secret comes from), a log, an
//! event, or an error message. Plans compare the source's version id with the one the live
//! Secret was synced from (`ecomctl.dev/source-version`), so a rotation shows as an update and
//! nothing else does.

use super::manifest::{Manifest, ObjectRef};
use super::plan::{Action, Change};
use super::{Cluster, ClusterError};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::path::Path;

pub const SOURCE_ANNOTATION: &str = "ecomctl.dev/synced-from";
pub const VERSION_ANNOTATION: &str = "ecomctl.dev/source-version";
/// The chart's `database.passwordSecret` (charts/platform/ecomctl.values.yaml.tera).
pub const DB_SECRET_NAME: &str = "db-credentials";
/// The fields of an RDS-managed secret copied into the Secret (same keys).
const DB_KEYS: [&str; 2] = ["username", "password"];

/// One Secret kept in sync with a Secrets Manager secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedSecret {
    pub namespace: String,
    pub name: String,
    /// The Secrets Manager secret's ARN.
    pub source: String,
}

impl SyncedSecret {
    pub fn id(&self) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some(self.namespace.clone()),
            name: self.name.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("reading {source_arn} from Secrets Manager: {message}")]
    Read { source_arn: String, message: String },
    #[error(
        "{source_arn} is not an RDS-managed secret (a JSON object with string username and password)"
    )]
    Shape { source_arn: String },
}

/// The Secrets the env's cluster stage syncs: the database's, once the app stage recorded it.
pub fn wanted(state_dir: &Path, env: &str, namespace: &str) -> Vec<SyncedSecret> {
    let path = state_dir.join(env).join("app").join("outputs.json");
    let outputs: Option<Value> = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let arn = outputs.as_ref().and_then(|o| {
        o.get("db_secret_arn")
            .and_then(|v| v.get("value").unwrap_or(v).as_str().map(str::to_string))
    });
    arn.filter(|a| a.starts_with("arn:"))
        .map(|source| SyncedSecret {
            namespace: namespace.into(),
            name: DB_SECRET_NAME.into(),
            source,
        })
        .into_iter()
        .collect()
}

/// Reads synced secrets from Secrets Manager.
pub struct SecretSource {
    client: aws_sdk_secretsmanager::Client,
}

/// A secret's current version and its fields (kept in memory only).
struct Current {
    version: String,
    fields: Map<String, Value>,
}

impl SecretSource {
    pub fn new(sdk: &aws_config::SdkConfig) -> SecretSource {
        SecretSource {
            client: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }

    async fn current(&self, s: &SyncedSecret) -> Result<Current, SecretError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&s.source)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                source_arn: s.source.clone(),
                // The error's code and message: AWS never puts the value in an error.
                message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
            })?;
        let shape = || SecretError::Shape {
            source_arn: s.source.clone(),
        };
        // Parsed without echoing: serde's messages can quote the input.
        let parsed: Value = out
            .secret_string()
            .and_then(|t| serde_json::from_str(t).ok())
            .ok_or_else(shape)?;
        let fields = parsed.as_object().cloned().ok_or_else(shape)?;
        if DB_KEYS
            .iter()
            .any(|k| !fields.get(*k).is_some_and(Value::is_string))
        {
            return Err(shape());
        }
        Ok(Current {
            version: out.version_id().unwrap_or_default().to_string(),
            fields,
        })
    }

    /// What syncing would do: create, update (the source has another version), or nothing.
    pub async fn plan(&self, cluster: &Cluster, s: &SyncedSecret) -> Result<Change, PlanError> {
        let current = self.current(s).await?;
        let live = cluster.get(&s.id()).await?;
        let (action, fields) = match live {
            None => (Action::Create, Vec::new()),
            Some(obj) if obj["metadata"]["annotations"][VERSION_ANNOTATION] == *current.version => {
                (Action::Unchanged, Vec::new())
            }
            Some(_) => (Action::Update, vec![".data".to_string()]),
        };
        Ok(Change {
            object: s.id(),
            action,
            fields,
        })
    }

    /// The Secret with its data, to apply now (never stored).
    pub async fn manifest(&self, s: &SyncedSecret) -> Result<Manifest, SecretError> {
        let current = self.current(s).await?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let data: Map<String, Value> = DB_KEYS
            .iter()
            .map(|k| {
                let v = current.fields[*k].as_str().unwrap_or_default();
                (k.to_string(), Value::String(b64.encode(v)))
            })
            .collect();
        Ok(Manifest {
            id: s.id(),
            value: json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": s.name,
                    "namespace": s.namespace,
                    "labels": {"app.kubernetes.io/managed-by": "ecomctl"},
                    "annotations": {
                        SOURCE_ANNOTATION: s.source,
                        VERSION_ANNOTATION: current.version,
                    },
                },
                "type": "Opaque",
                "data": data,
            }),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_db_secret_is_wanted_once_the_app_stage_recorded_it() {
        let dir = tempfile::tempdir().unwrap();
        assert!(wanted(dir.path(), "nonprod", "ecommerce").is_empty());
        let app = dir.path().join("nonprod/app");
        std::fs::create_dir_all(&app).unwrap();
        let arn = "arn:aws:secretsmanager:eu-west-1:222222222222:secret:rds!db-1";
        std::fs::write(
            app.join("outputs.json"),
            json!({"db_secret_arn": {"value": arn, "sensitive": false}}).to_string(),
        )
        .unwrap();
        let w = wanted(dir.path(), "nonprod", "ecommerce");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].source, arn);
        assert_eq!(w[0].id().to_string(), "Secret/db-credentials -n ecommerce");
    }
}
