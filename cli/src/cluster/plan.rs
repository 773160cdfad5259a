//! The cluster plan: a server-side-apply dry run of every manifest against the live cluster,
//! compared with what is there, plus the objects the current inventory revision has and the
//! new manifests do not (they would be pruned).

use super::inventory::{self, Inventory};
use super::manifest::{Manifest, ObjectRef};
use super::{Cluster, ClusterError};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    #[serde(flatten)]
    pub object: ObjectRef,
    pub action: Action,
    /// For updates: the fields that change (`.spec.replicas`), never their values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterPlan {
    pub changes: Vec<Change>,
    /// SHA-256 over the manifests and the changes: what `--approve` names.
    pub hash: String,
    /// The inventory revision the apply would write.
    pub revision: u32,
}

impl ClusterPlan {
    pub fn count(&self, a: Action) -> usize {
        self.changes.iter().filter(|c| c.action == a).count()
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::Unchanged)
    }
}

/// What the server owns or computes, left out of the comparison.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v["metadata"].as_object_mut() {
        for k in [
            "managedFields",
            "resourceVersion",
            "generation",
            "uid",
            "creationTimestamp",
            "selfLink",
        ] {
            m.remove(k);
        }
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    v
}

/// Leaf paths whose values differ between `a` and `b` (lists compared whole).
pub fn changed_fields(a: &Value, b: &Value) -> Vec<String> {
    fn walk(a: Option<&Value>, b: Option<&Value>, path: &mut String, out: &mut Vec<String>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let len = path.len();
                    path.push('.');
                    path.push_str(k);
                    walk(x.get(k), y.get(k), path, out);
                    path.truncate(len);
                }
            }
            (x, y) if x != y => out.push(path.clone()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(Some(a), Some(b), &mut String::new(), &mut out);
    out
}

/// Reads the release's inventory (an empty one when there is none yet).
pub async fn load_inventory(cluster: &Cluster, release: &str) -> Result<Inventory, ClusterError> {
    let id = ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(inventory::NAMESPACE.into()),
        name: inventory::object_name(release),
    };
    match cluster.get(&id).await? {
        Some(obj) => Inventory::from_object(release, &obj).map_err(ClusterError::Inventory),
        None => Ok(Inventory::new(release)),
    }
}

/// One object: create when it is not there, else what the dry run would change.
async fn diff_one(
    cluster: &Cluster,
    m: &Manifest,
    force: bool,
    brings_crds: bool,
) -> Result<Change, ClusterError> {
    let change = |action, fields| Change {
        object: m.id.clone(),
        action,
        fields,
    };
    let live = match cluster.get(&m.id).await {
        Ok(live) => live,
        Err(ClusterError::UnknownKind(_)) if brings_crds => None,
        Err(e) => return Err(e),
    };
    let Some(live) = live else {
        return Ok(change(Action::Create, Vec::new()));
    };
    let after = cluster.apply(m, force, true).await?;
    let fields = changed_fields(&comparable(&live), &comparable(&after));
    let action = if fields.is_empty() {
        Action::Unchanged
    } else {
        Action::Update
    };
    Ok(change(action, fields))
}

/// Plans `manifests` (in apply order) against the cluster. `synced` are the changes of the
/// Secrets synced at apply time (`super::secrets`), planned by their caller.
pub async fn plan(
    cluster: &Cluster,
    release: &str,
    manifests: &[Manifest],
    synced: &[Change],
    force: bool,
) -> Result<ClusterPlan, ClusterError> {
    let inv = load_inventory(cluster, release).await?;
    // A custom resource whose CRD this same plan brings is not served yet: it is a create.
    let brings_crds = manifests
        .iter()
        .any(|m| m.id.kind == "CustomResourceDefinition");
    // Objects are compared concurrently (a few requests in flight), results kept in order.
    let outcomes: Vec<Result<Change, ClusterError>> = futures_util::stream::iter(manifests)
        .map(|m| diff_one(cluster, m, force, brings_crds))
        .buffered(8)
        .collect()
        .await;
    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(change) => changes.push(change),
            Err(ClusterError::Conflicts { details, .. }) => conflicts.push(details),
            Err(e) => return Err(e),
        }
    }
    if !conflicts.is_empty() {
        return Err(ClusterError::Conflicts {
            count: conflicts.len(),
            details: conflicts.join("\n"),
        });
    }
    changes.extend(synced.iter().cloned());
    if let Some(cur) = inv.current() {
        for id in &cur.objects {
            if !manifests.iter().any(|m| &m.id == id) && !synced.iter().any(|c| &c.object == id) {
                changes.push(Change {
                    object: id.clone(),
                    action: Action::Delete,
                    fields: Vec::new(),
                });
            }
        }
    }
    let mut h = Sha256::new();
    for m in manifests {
        h.update(m.value.to_string().as_bytes());
    }
    h.update(
        serde_json::to_string(&changes)
            .unwrap_or_default()
            .as_bytes(),
    );
    Ok(ClusterPlan {
        changes,
        hash: format!("{:x}", h.finalize()),
        revision: inv.next_number(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_fields_names_leaves_not_values() {
        let a = json!({"spec": {"replicas": 2, "template": {"x": [1]}}, "metadata": {"labels": {"a": "1"}}});
        let b = json!({"spec": {"replicas": 3, "template": {"x": [1]}}, "metadata": {"labels": {"a": "1", "b": "2"}}});
        assert_eq!(
            changed_fields(&a, &b),
            [".metadata.labels.b", ".spec.replicas"]
        );
        assert!(changed_fields(&a, &a).is_empty());
    }
}
