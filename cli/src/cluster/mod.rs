//! The cluster stage's work with kube-rs: connect, plan (a server-side-apply dry run per object),
//! apply in dependency order, an inventory of revisions kept in the cluster (prune, rollback),
//! and the rollout watch that explains a failure.
//!
//! Everything here talks to the API server through [`Cluster`]; tests point it at the fake API
//! server of `crates/fakekube`.

pub mod addons;
pub mod apply;
pub mod connect;
pub mod eks_token;
pub mod fetch;
pub mod inventory;
pub mod manifest;
pub mod plan;
pub mod provenance;
pub mod secrets;
pub mod source;
pub mod stage;
pub mod watch;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope};
use manifest::{Manifest, ObjectRef};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// The field manager of everything ecomctl applies.
pub const FIELD_MANAGER: &str = "ecomctl";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot connect to the cluster: {0}")]
    Connect(String),
    #[error("the API server does not serve {0} (is its CRD installed?)")]
    UnknownKind(String),
    #[error("{action} {object}: {message}")]
    Api {
        action: &'static str,
        object: String,
        message: String,
    },
    #[error("{count} field conflict(s) with other field managers:\n{details}")]
    Conflicts { count: usize, details: String },
    #[error("{0}")]
    Inventory(String),
    /// A synced Secret's source could not be read (the message never holds its value).
    #[error("{0}")]
    Sync(String),
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout { secs: u64, what: String },
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
}

impl ClusterError {
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ClusterError::Conflicts { .. } => Some(
                "another tool changed these fields; keep its values in the config, or take them \
                 with --force-conflicts",
            ),
            ClusterError::Inventory(_) => Some("`ecomctl rollback -e ENV --to N` lists revisions"),
            _ => None,
        }
    }
}

/// A connection to one cluster, with the kinds it serves resolved once.
pub struct Cluster {
    pub client: kube::Client,
    kinds: Mutex<HashMap<String, (ApiResource, ApiCapabilities)>>,
}

/// Whether a kube error is the API server's 404.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(r) if r.code == 404)
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(r) => format!("{} ({} {})", r.message, r.code, r.reason),
        other => other.to_string(),
    }
}

impl Cluster {
    pub fn new(client: kube::Client) -> Cluster {
        Cluster {
            client,
            kinds: Mutex::new(HashMap::new()),
        }
    }

    async fn resource(
        &self,
        id: &ObjectRef,
    ) -> Result<(ApiResource, ApiCapabilities), ClusterError> {
        let key = format!("{}/{}", id.api_version, id.kind);
        if let Some(found) = self.kinds.lock().ok().and_then(|k| k.get(&key).cloned()) {
            return Ok(found);
        }
        let gvk = GroupVersionKind::gvk(id.group(), id.version(), &id.kind);
        let found = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| match &e {
                kube::Error::Api(r) if r.code == 404 => ClusterError::UnknownKind(key.clone()),
                kube::Error::Discovery(_) => ClusterError::UnknownKind(key.clone()),
                _ => ClusterError::Connect(api_message(&e)),
            })?;
        if let Ok(mut k) = self.kinds.lock() {
            k.insert(key, found.clone());
        }
        Ok(found)
    }

    /// Forgets resolved kinds (after CRDs were added or removed).
    pub fn forget_kinds(&self) {
        if let Ok(mut k) = self.kinds.lock() {
            k.clear();
        }
    }

    pub async fn api(&self, id: &ObjectRef) -> Result<Api<DynamicObject>, ClusterError> {
        let (ar, caps) = self.resource(id).await?;
        Ok(match (caps.scope, &id.namespace) {
            (Scope::Namespaced, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &ar),
            (Scope::Namespaced, None) => Api::default_namespaced_with(self.client.clone(), &ar),
            (Scope::Cluster, _) => Api::all_with(self.client.clone(), &ar),
        })
    }

    /// The live object, or None.
    pub async fn get(&self, id: &ObjectRef) -> Result<Option<Value>, ClusterError> {
        let api = self.api(id).await?;
        match api.get_opt(&id.name).await {
            Ok(o) => Ok(o.map(|o| serde_json::to_value(o).unwrap_or(Value::Null))),
            Err(e) => Err(ClusterError::Api {
                action: "reading",
                object: id.to_string(),
                message: api_message(&e),
            }),
        }
    }

    /// Server-side apply of one manifest as `ecomctl`; `dry_run` asks the server what it would
    /// make of it without storing anything.
    pub async fn apply(
        &self,
        m: &Manifest,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ClusterError> {
        let api = self.api(&m.id).await?;
        let mut pp = PatchParams::apply(FIELD_MANAGER);
        pp.force = force;
        pp.dry_run = dry_run;
        match api.patch(&m.id.name, &pp, &Patch::Apply(&m.value)).await {
            Ok(o) => Ok(serde_json::to_value(o).unwrap_or(Value::Null)),
            Err(kube::Error::Api(r)) if r.code == 409 => Err(ClusterError::Conflicts {
                count: r.message.matches("conflict with").count().max(1),
                details: format!("  {}: {}", m.id, r.message),
            }),
            Err(e) => Err(ClusterError::Api {
                action: if dry_run { "planning" } else { "applying" },
                object: m.id.to_string(),
                message: api_message(&e),
            }),
        }
    }

    /// Deletes an object; one already gone is fine.
    pub async fn delete(&self, id: &ObjectRef) -> Result<bool, ClusterError> {
        let api = match self.api(id).await {
            Ok(api) => api,
            // Its CRD is gone, so the object is too.
            Err(ClusterError::UnknownKind(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let dp = DeleteParams::background();
        match api.delete(&id.name, &dp).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(ClusterError::Api {
                action: "deleting",
                object: id.to_string(),
                message: api_message(&e),
            }),
        }
    }
}
