//! What was applied, kept in the cluster: one ConfigMap per release
//! (`kube-system/ecomctl-release-<env>`) holding its revision history. The newest revision's
//! objects are what a later apply prunes against; any kept revision can be re-applied
//! (`ecomctl rollback`). Secrets are never stored: a Secret's data is synced at apply time.

use super::manifest::{Manifest, ObjectRef};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const NAMESPACE: &str = "kube-system";
pub const KEY: &str = "revisions.json";
/// Revisions kept (older ones are dropped; a ConfigMap holds at most 1 MiB).
pub const HISTORY: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevisionStatus {
    /// Applied; its rollout is being watched.
    Pending,
    Deployed,
    /// Replaced by a later revision.
    Superseded,
    /// Its rollout failed (and the previous revision was re-applied).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub revision: u32,
    pub status: RevisionStatus,
    /// Unix seconds.
    pub applied_at: u64,
    /// What made it: `apply`, `rollback to 3`, `rollback after failure of 5`.
    pub description: String,
    pub objects: Vec<ObjectRef>,
    /// The applied manifests (Secrets left out).
    pub manifests: Vec<Value>,
}

impl Revision {
    /// The objects it keeps but does not store (Secrets, whose data is synced, not recorded).
    pub fn unstored(&self) -> Vec<ObjectRef> {
        self.objects
            .iter()
            .filter(|id| id.kind == "Secret")
            .cloned()
            .collect()
    }

    pub fn manifests(&self) -> Vec<Manifest> {
        self.manifests
            .iter()
            .filter_map(|v| {
                let id: ObjectRef = serde_json::from_value(serde_json::json!({
                    "apiVersion": v["apiVersion"], "kind": v["kind"],
                    "namespace": v["metadata"]["namespace"], "name": v["metadata"]["name"],
                }))
                .ok()?;
                Some(Manifest {
                    id,
                    value: v.clone(),
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    pub release: String,
    pub revisions: Vec<Revision>,
}

pub fn object_name(release: &str) -> String {
    format!("ecomctl-release-{release}")
}

impl Inventory {
    pub fn new(release: &str) -> Inventory {
        Inventory {
            release: release.into(),
            revisions: Vec::new(),
        }
    }

    /// The newest revision whose objects are in the cluster (deployed or pending).
    pub fn current(&self) -> Option<&Revision> {
        self.revisions
            .iter()
            .rev()
            .find(|r| matches!(r.status, RevisionStatus::Deployed | RevisionStatus::Pending))
    }

    /// The deployed revision before the current one (what a plain rollback goes back to).
    pub fn previous(&self) -> Option<&Revision> {
        let cur = self.current()?.revision;
        self.revisions
            .iter()
            .rev()
            .find(|r| r.revision < cur && r.status != RevisionStatus::Failed)
    }

    pub fn get(&self, n: u32) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.revision == n)
    }

    pub fn next_number(&self) -> u32 {
        self.revisions.last().map(|r| r.revision + 1).unwrap_or(1)
    }

    /// Adds a pending revision; the one it replaces becomes superseded. `retained` are objects
    /// the revision keeps without re-applying them (synced Secrets on a rollback).
    pub fn push(
        &mut self,
        description: &str,
        manifests: &[Manifest],
        retained: &[ObjectRef],
        now: u64,
    ) -> u32 {
        for r in &mut self.revisions {
            if matches!(r.status, RevisionStatus::Deployed | RevisionStatus::Pending) {
                r.status = RevisionStatus::Superseded;
            }
        }
        let n = self.next_number();
        self.revisions.push(Revision {
            revision: n,
            status: RevisionStatus::Pending,
            applied_at: now,
            description: description.into(),
            objects: manifests
                .iter()
                .map(|m| m.id.clone())
                .chain(retained.iter().cloned())
                .collect(),
            manifests: manifests
                .iter()
                .filter(|m| m.id.kind != "Secret")
                .map(|m| m.value.clone())
                .collect(),
        });
        let drop = self.revisions.len().saturating_sub(HISTORY);
        self.revisions.drain(..drop);
        n
    }

    pub fn set_status(&mut self, n: u32, status: RevisionStatus) {
        if let Some(r) = self.revisions.iter_mut().find(|r| r.revision == n) {
            r.status = status;
        }
    }

    /// The ConfigMap that stores it.
    pub fn to_object(&self) -> Value {
        let data = serde_json::to_string(&self.revisions).unwrap_or_else(|_| "[]".into());
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": object_name(&self.release),
                "namespace": NAMESPACE,
                "labels": {
                    "app.kubernetes.io/managed-by": "ecomctl",
                    "ecomctl.dev/release": self.release,
                },
            },
            "data": { KEY: data },
        })
    }

    pub fn from_object(release: &str, obj: &Value) -> Result<Inventory, String> {
        let text = obj["data"][KEY].as_str().unwrap_or("[]");
        let revisions = serde_json::from_str(text).map_err(|e| {
            format!(
                "the inventory {NAMESPACE}/{} is damaged ({e}); delete it to start a new history",
                object_name(release)
            )
        })?;
        Ok(Inventory {
            release: release.into(),
            revisions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::manifest::parse;

    #[test]
    fn revisions_supersede_keep_a_bounded_history_and_skip_secret_data() {
        let ms = parse(
            "t",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: a}\ndata: {p: eA==}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n",
            None,
        )
        .unwrap();
        let mut inv = Inventory::new("nonprod");
        for _ in 0..8 {
            let n = inv.push("apply", &ms, &[], 1);
            inv.set_status(n, RevisionStatus::Deployed);
        }
        assert_eq!(inv.revisions.len(), HISTORY);
        assert_eq!(inv.current().unwrap().revision, 8);
        assert_eq!(inv.previous().unwrap().revision, 7);
        let cur = inv.current().unwrap();
        assert_eq!(cur.objects.len(), 2);
        assert_eq!(cur.manifests.len(), 1, "no Secret stored");
        let back = Inventory::from_object("nonprod", &inv.to_object()).unwrap();
        assert_eq!(back, inv);
        let damaged = serde_json::json!({"data": {KEY: "{"}});
        assert!(Inventory::from_object("nonprod", &damaged)
            .unwrap_err()
            .contains("delete it"));
    }
}
