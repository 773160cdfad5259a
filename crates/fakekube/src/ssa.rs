//! Server-side apply as the fake does it: every leaf of an applied object (maps are walked, lists
//! are atomic) is a field owned by the applying manager. Conflicts, removal of fields a manager
//! stopped applying, and `managedFields` in the `FieldsV1` format follow from that.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// A field: the keys from the object's root to a leaf.
pub type Path = Vec<String>;

/// Whether a manager's fields came from an apply or from an update (create, replace, patch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

#[derive(Debug, Clone)]
pub struct Managed {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub fields: BTreeSet<Path>,
}

/// Keys the server owns: never fields of a manager.
fn ignored(path: &[String]) -> bool {
    match path {
        [k] => k == "apiVersion" || k == "kind" || k == "status",
        [m, k] if m == "metadata" => matches!(
            k.as_str(),
            "name"
                | "namespace"
                | "resourceVersion"
                | "managedFields"
                | "uid"
                | "generation"
                | "creationTimestamp"
                | "deletionTimestamp"
                | "selfLink"
        ),
        _ => false,
    }
}

/// Every leaf field of `v`.
pub fn leaves(v: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn walk(v: &Value, path: &mut Vec<String>, out: &mut BTreeSet<Path>) {
    match v {
        Value::Object(m) if !m.is_empty() || path.is_empty() => {
            for (k, child) in m {
                path.push(k.clone());
                if !ignored(path) {
                    walk(child, path, out);
                }
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

pub fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

pub fn set(v: &mut Value, path: &[String], value: Value) {
    let mut cur = v;
    for k in &path[..path.len() - 1] {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur
            .as_object_mut()
            .map(|m| {
                m.entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            })
            .expect("made an object above");
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let (Some(m), Some(last)) = (cur.as_object_mut(), path.last()) {
        m.insert(last.clone(), value);
    }
}

/// Removes the field, and the maps it leaves empty.
pub fn remove(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if let Some(Value::Object(m)) = parents.iter().try_fold(&mut *v, |cur, k| cur.get_mut(k)) {
        m.remove(last);
        if m.is_empty() && !parents.is_empty() {
            remove(v, parents);
        }
    }
}

/// A field another manager owns with a different value than the one applied.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub manager: String,
    pub path: Path,
}

pub fn dotted(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// Applies `applied` as `manager` over `current` (None when the object is new). Returns the
/// merged object, or the conflicts when `force` is false.
pub fn apply(
    current: Option<&Value>,
    managed: &mut Vec<Managed>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, Vec<Conflict>> {
    let fields = leaves(applied);
    let mut merged = current
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut conflicts = Vec::new();
    for m in managed.iter_mut().filter(|m| m.manager != manager) {
        let owned: Vec<Path> = m.fields.intersection(&fields).cloned().collect();
        for p in owned {
            if get(&merged, &p) != get(applied, &p) {
                if force {
                    m.fields.remove(&p);
                } else {
                    conflicts.push(Conflict {
                        manager: m.manager.clone(),
                        path: p,
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    managed.retain(|m| !m.fields.is_empty());
    let before: BTreeSet<Path> = managed
        .iter()
        .find(|m| m.manager == manager && m.operation == Operation::Apply)
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    for p in before.difference(&fields) {
        let others = managed.iter().any(|m| {
            !(m.manager == manager && m.operation == Operation::Apply) && m.fields.contains(p)
        });
        if !others {
            remove(&mut merged, p);
        }
    }
    for p in &fields {
        if let Some(v) = get(applied, p) {
            set(&mut merged, p, v.clone());
        }
    }
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    managed.retain(|m| !(m.manager == manager && m.operation == Operation::Apply));
    managed.push(Managed {
        manager: manager.to_string(),
        operation: Operation::Apply,
        api_version,
        time: now.to_string(),
        fields,
    });
    Ok(merged)
}

/// Records an update (create, replace, patch) by `manager`: it owns the leaves that changed, and
/// other managers lose them.
pub fn record_update(
    before: Option<&Value>,
    after: &Value,
    managed: &mut Vec<Managed>,
    manager: &str,
    now: &str,
) {
    let changed: BTreeSet<Path> = leaves(after)
        .into_iter()
        .filter(|p| before.and_then(|b| get(b, p)) != get(after, p))
        .collect();
    if changed.is_empty() {
        return;
    }
    for m in managed.iter_mut() {
        m.fields.retain(|p| !changed.contains(p));
    }
    managed.retain(|m| !m.fields.is_empty());
    let api_version = after["apiVersion"].as_str().unwrap_or_default().to_string();
    match managed
        .iter_mut()
        .find(|m| m.manager == manager && m.operation == Operation::Update)
    {
        Some(m) => {
            m.fields.extend(changed);
            m.time = now.to_string();
        }
        None => managed.push(Managed {
            manager: manager.to_string(),
            operation: Operation::Update,
            api_version,
            time: now.to_string(),
            fields: changed,
        }),
    }
}

/// `metadata.managedFields` as the API server writes it.
pub fn managed_fields(managed: &[Managed]) -> Value {
    Value::Array(
        managed
            .iter()
            .map(|m| {
                let mut tree = Value::Object(Map::new());
                for p in &m.fields {
                    let keys: Vec<String> = p.iter().map(|k| format!("f:{k}")).collect();
                    set(&mut tree, &keys, Value::Object(Map::new()));
                }
                serde_json::json!({
                    "manager": m.manager,
                    "operation": match m.operation { Operation::Apply => "Apply", Operation::Update => "Update" },
                    "apiVersion": m.api_version,
                    "time": m.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": tree,
                })
            })
            .collect(),
    )
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("made an object above");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Path {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn a_field_dropped_from_the_apply_is_removed_unless_someone_else_owns_it() {
        let mut managed = Vec::new();
        let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
            "data": {"x": "1", "y": "2"}});
        let obj = apply(None, &mut managed, &first, "ecomctl", false, "t").unwrap();
        let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
            "data": {"x": "1"}});
        let obj = apply(Some(&obj), &mut managed, &second, "ecomctl", false, "t").unwrap();
        assert_eq!(obj["data"], json!({"x": "1"}));
    }

    #[test]
    fn a_different_value_for_another_managers_field_conflicts_unless_forced() {
        let mut managed = Vec::new();
        let mine = json!({"spec": {"replicas": 2}});
        let obj = apply(None, &mut managed, &mine, "ecomctl", false, "t").unwrap();
        let theirs = json!({"spec": {"replicas": 5}});
        let err = apply(Some(&obj), &mut managed, &theirs, "kubectl", false, "t").unwrap_err();
        assert_eq!(err[0].manager, "ecomctl");
        assert_eq!(err[0].path, p("spec.replicas"));
        let obj = apply(Some(&obj), &mut managed, &theirs, "kubectl", true, "t").unwrap();
        assert_eq!(obj["spec"]["replicas"], 5);
        assert!(!managed.iter().any(|m| m.manager == "ecomctl"));
    }

    #[test]
    fn managed_fields_are_fields_v1() {
        let mut managed = Vec::new();
        apply(
            None,
            &mut managed,
            &json!({"spec": {"a": {"b": 1}}}),
            "m",
            false,
            "t",
        )
        .unwrap();
        assert_eq!(
            managed_fields(&managed)[0]["fieldsV1"],
            json!({"f:spec": {"f:a": {"f:b": {}}}})
        );
    }
}
