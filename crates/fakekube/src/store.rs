//! The fake's objects and what each verb does to them. No I/O here: `http.rs` parses requests
//! into calls on `Store`.

use crate::registry::{Kind, Registry};
use crate::selector::Selector;
use crate::ssa::{self, Managed};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::broadcast;

/// Where an object lives: (group, plural, namespace or "", name).
pub type Key = (String, String, String, String);

pub struct Stored {
    pub obj: Value,
    pub managed: Vec<Managed>,
}

#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub rv: u64,
    pub kind: &'static str,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub object: Value,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn not_found(kind: &Kind, name: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("{}.{} \"{name}\" not found", kind.plural, kind.group),
        )
    }

    pub fn status(&self) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code})
    }
}

/// One request as the fake saw it, for tests to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub field_manager: Option<String>,
    pub dry_run: bool,
}

pub struct Store {
    pub registry: Registry,
    pub objects: BTreeMap<Key, Stored>,
    pub rv: u64,
    pub history: Vec<WatchEvent>,
    pub tx: broadcast::Sender<WatchEvent>,
    pub logs: HashMap<(String, String), String>,
    pub requests: Vec<SeenRequest>,
    pub auto_rollout: bool,
    uid: u64,
}

/// What a write asks for beyond the object itself.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    pub manager: Option<String>,
    pub force: bool,
    pub dry_run: bool,
}

pub fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

impl Store {
    pub fn new() -> Store {
        Store {
            registry: Registry::default(),
            objects: BTreeMap::new(),
            rv: 1,
            history: Vec::new(),
            tx: broadcast::channel(4096).0,
            logs: HashMap::new(),
            requests: Vec::new(),
            auto_rollout: true,
            uid: 0,
        }
    }

    pub fn key(kind: &Kind, ns: Option<&str>, name: &str) -> Key {
        let ns = if kind.namespaced {
            ns.unwrap_or("default")
        } else {
            ""
        };
        (
            kind.group.clone(),
            kind.plural.clone(),
            ns.into(),
            name.into(),
        )
    }

    /// Renders a stored object as the API returns it.
    pub fn view(stored: &Stored) -> Value {
        let mut obj = stored.obj.clone();
        obj["metadata"]["managedFields"] = ssa::managed_fields(&stored.managed);
        if stored.managed.is_empty() {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
        }
        obj
    }

    pub fn get(&self, kind: &Kind, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&Store::key(kind, ns, name))
            .map(Store::view)
            .ok_or_else(|| ApiError::not_found(kind, name))
    }

    pub fn list(&self, kind: &Kind, ns: Option<&str>, sel: &Selector) -> Value {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                *g == kind.group && *p == kind.plural && ns.is_none_or(|ns| ns == n)
            })
            .map(|(_, s)| Store::view(s))
            .filter(|o| sel.matches(o))
            .collect();
        json!({"apiVersion": kind.api_version(), "kind": format!("{}List", kind.kind),
            "metadata": {"resourceVersion": self.rv.to_string()}, "items": items})
    }

    fn emit(&mut self, kind: &'static str, key: &Key, object: Value) {
        let ev = WatchEvent {
            rv: self.rv,
            kind,
            group: key.0.clone(),
            plural: key.1.clone(),
            namespace: key.2.clone(),
            object,
        };
        self.history.push(ev.clone());
        let _ = self.tx.send(ev);
    }

    /// Stores `obj` (new or changed) with server-set metadata, bumps generation when the spec
    /// changed, emits the watch event. Returns the object as the API shows it.
    fn commit(&mut self, kind: &Kind, key: Key, mut obj: Value, managed: Vec<Managed>) -> Value {
        let old = self.objects.get(&key);
        if let Some(old) = old {
            if spec_part(&old.obj) == spec_part(&obj) && old.obj["metadata"] == obj["metadata"] {
                if old.obj["status"] == obj["status"] {
                    // Nothing changed: no new resourceVersion, no event.
                    let stored = Stored { obj, managed };
                    let view = Store::view(&stored);
                    self.objects.insert(key, stored);
                    return view;
                }
            }
        }
        self.rv += 1;
        let generation = match old {
            Some(o) => {
                let g = o.obj["metadata"]["generation"].as_i64().unwrap_or(1);
                if spec_part(&o.obj) != spec_part(&obj) {
                    g + 1
                } else {
                    g
                }
            }
            None => 1,
        };
        let created = old.is_none();
        let meta = &mut obj["metadata"];
        meta["name"] = json!(key.3);
        if kind.namespaced {
            meta["namespace"] = json!(key.2);
        }
        meta["resourceVersion"] = json!(self.rv.to_string());
        meta["generation"] = json!(generation);
        if created {
            self.uid += 1;
            meta["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", self.uid));
            meta["creationTimestamp"] = json!(now());
        }
        obj["apiVersion"] = json!(kind.api_version());
        obj["kind"] = json!(kind.kind);
        if kind.kind == "CustomResourceDefinition" {
            self.registry.add_crd(&obj);
            obj["status"] = json!({"conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
                "acceptedNames": obj["spec"]["names"].clone()});
        }
        if self.auto_rollout && (kind.kind == "Deployment" || kind.kind == "StatefulSet") {
            rolled_out(&mut obj, generation);
        }
        let stored = Stored { obj, managed };
        let view = Store::view(&stored);
        self.objects.insert(key.clone(), stored);
        self.emit(
            if created { "ADDED" } else { "MODIFIED" },
            &key,
            view.clone(),
        );
        view
    }

    pub fn create(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        obj: Value,
        o: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            return Err(ApiError::new(
                422,
                "Invalid",
                "metadata.name: Required value",
            ));
        }
        let key = Store::key(kind, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{}.{} \"{name}\" already exists", kind.plural, kind.group),
            ));
        }
        self.check_namespace(kind, &key)?;
        let mut managed = Vec::new();
        ssa::record_update(
            None,
            &obj,
            &mut managed,
            o.manager.as_deref().unwrap_or("unknown"),
            &now(),
        );
        if o.dry_run {
            return Ok(obj);
        }
        Ok(self.commit(kind, key, obj, managed))
    }

    fn check_namespace(&self, kind: &Kind, key: &Key) -> Result<(), ApiError> {
        if kind.namespaced
            && !self.objects.contains_key(&(
                String::new(),
                "namespaces".into(),
                String::new(),
                key.2.clone(),
            ))
        {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("namespaces \"{}\" not found", key.2),
            ));
        }
        Ok(())
    }

    /// Server-side apply.
    pub fn apply(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        applied: Value,
        o: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let manager = o.manager.as_deref().ok_or_else(|| {
            ApiError::new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        })?;
        if applied["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n != name)
        {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "the name of the object does not match the name on the URL",
            ));
        }
        let key = Store::key(kind, ns, name);
        self.check_namespace(kind, &key)?;
        let existing = self.objects.get(&key);
        let mut managed = existing.map(|s| s.managed.clone()).unwrap_or_default();
        let merged = ssa::apply(
            existing.map(|s| &s.obj),
            &mut managed,
            &applied,
            manager,
            o.force,
            &now(),
        )
        .map_err(|conflicts| {
            let lines: Vec<String> = conflicts
                .iter()
                .map(|c| format!("conflict with \"{}\": {}", c.manager, ssa::dotted(&c.path)))
                .collect();
            ApiError::new(
                409,
                "Conflict",
                format!(
                    "Apply failed with {} conflict{}: {}",
                    lines.len(),
                    if lines.len() == 1 { "" } else { "s" },
                    lines.join("\n")
                ),
            )
        })?;
        let mut merged = merged;
        if let Some(status) = existing
            .map(|s| s.obj["status"].clone())
            .filter(|s| !s.is_null())
        {
            merged["status"] = status;
        }
        if o.dry_run {
            let mut view = Store::view(&Stored {
                obj: merged,
                managed,
            });
            view["metadata"]["name"] = json!(name);
            return Ok(view);
        }
        Ok(self.commit(kind, key, merged, managed))
    }

    /// Replace (PUT) or JSON merge patch, on the object or on its status.
    pub fn update(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        status_only: bool,
        change: impl FnOnce(&mut Value),
        o: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let key = Store::key(kind, ns, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let before = stored.obj.clone();
        let mut after = before.clone();
        change(&mut after);
        if status_only {
            let status = after["status"].clone();
            after = before.clone();
            after["status"] = status;
        } else {
            after["status"] = before["status"].clone();
        }
        let mut managed = stored.managed.clone();
        ssa::record_update(
            Some(&before),
            &after,
            &mut managed,
            o.manager.as_deref().unwrap_or("unknown"),
            &now(),
        );
        if o.dry_run {
            return Ok(after);
        }
        Ok(self.commit(kind, key, after, managed))
    }

    pub fn delete(
        &mut self,
        kind: &Kind,
        ns: Option<&str>,
        name: &str,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let key = Store::key(kind, ns, name);
        if !self.objects.contains_key(&key) {
            return Err(ApiError::not_found(kind, name));
        }
        if dry_run {
            return Ok(self.get(kind, ns, name)?);
        }
        let stored = self.objects.remove(&key).expect("checked above");
        self.rv += 1;
        let view = Store::view(&stored);
        self.emit("DELETED", &key, view.clone());
        if kind.kind == "Namespace" {
            let inside: Vec<Key> = self
                .objects
                .keys()
                .filter(|k| k.2 == name)
                .cloned()
                .collect();
            for k in inside {
                if let Some(s) = self.objects.remove(&k) {
                    self.rv += 1;
                    self.emit("DELETED", &k, Store::view(&s));
                }
            }
        }
        if kind.kind == "CustomResourceDefinition" {
            self.registry.remove_crd(&stored.obj);
        }
        Ok(view)
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// What a healthy cluster would report once a workload's rollout is done.
pub fn rolled_out(obj: &mut Value, generation: i64) {
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    obj["status"] = if obj["kind"] == "StatefulSet" {
        json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
            "currentReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas,
            "currentRevision": format!("rev-{generation}"), "updateRevision": format!("rev-{generation}")})
    } else {
        json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
            "updatedReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]})
    };
}
