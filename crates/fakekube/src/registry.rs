//! The kinds the fake knows: the built-in ones a platform release uses, plus every
//! CustomResourceDefinition created through it. Serves discovery from the same table.

use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const BUILTIN: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Namespace", "namespaces", false),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "Service", "services", true),
    ("", "v1", "ServiceAccount", "serviceaccounts", true),
    ("", "v1", "Pod", "pods", true),
    ("", "v1", "Event", "events", true),
    (
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
    ),
    ("", "v1", "ResourceQuota", "resourcequotas", true),
    ("", "v1", "LimitRange", "limitranges", true),
    ("", "v1", "Node", "nodes", false),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true),
    ("batch", "v1", "Job", "jobs", true),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
    ),
    (
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
    ),
    (
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "PriorityClass",
        "priorityclasses",
        false,
    ),
];

#[derive(Debug, Clone)]
pub struct Registry {
    kinds: Vec<Kind>,
}

impl Default for Registry {
    fn default() -> Self {
        let kinds = BUILTIN
            .iter()
            .map(|(g, v, k, p, n)| Kind {
                group: g.to_string(),
                version: v.to_string(),
                kind: k.to_string(),
                plural: p.to_string(),
                namespaced: *n,
            })
            .collect();
        Registry { kinds }
    }
}

impl Registry {
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&Kind> {
        self.kinds
            .iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&Kind> {
        self.kinds
            .iter()
            .find(|k| k.api_version() == api_version && k.kind == kind)
    }

    /// Registers the versions a CustomResourceDefinition serves. Returns the kinds added.
    pub fn add_crd(&mut self, crd: &Value) -> Vec<Kind> {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default().to_string();
        let kind = spec["names"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let plural = spec["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let mut added = Vec::new();
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"].as_bool() == Some(false) {
                continue;
            }
            let k = Kind {
                group: group.clone(),
                version: v["name"].as_str().unwrap_or_default().to_string(),
                kind: kind.clone(),
                plural: plural.clone(),
                namespaced,
            };
            if !self.kinds.contains(&k) {
                self.kinds.push(k.clone());
                added.push(k);
            }
        }
        added
    }

    pub fn remove_crd(&mut self, crd: &Value) {
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap_or_default();
        self.kinds
            .retain(|k| !(k.group == group && k.plural == plural));
    }

    /// `GET /api`.
    pub fn core_versions(&self) -> Value {
        json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
    }

    /// `GET /apis`.
    pub fn group_list(&self) -> Value {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for k in self.kinds.iter().filter(|k| !k.group.is_empty()) {
            match groups.iter_mut().find(|(g, _)| *g == k.group) {
                Some((_, vs)) if !vs.contains(&k.version) => vs.push(k.version.clone()),
                Some(_) => {}
                None => groups.push((k.group.clone(), vec![k.version.clone()])),
            }
        }
        let groups: Vec<Value> = groups
            .into_iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                    .collect();
                json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
            })
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET /api/v1` or `GET /apis/<group>/<version>`; `None` when nothing is served there.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let resources: Vec<Value> = self
            .kinds
            .iter()
            .filter(|k| k.group == group && k.version == version)
            .flat_map(|k| {
                let verbs = [
                    "create", "delete", "deletecollection", "get", "list", "patch", "update",
                    "watch",
                ];
                let main = json!({"name": k.plural, "singularName": k.kind.to_lowercase(),
                    "namespaced": k.namespaced, "kind": k.kind, "verbs": verbs});
                let status = json!({"name": format!("{}/status", k.plural), "singularName": "",
                    "namespaced": k.namespaced, "kind": k.kind, "verbs": ["get", "patch", "update"]});
                [main, status]
            })
            .collect();
        if resources.is_empty() {
            return None;
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}),
        )
    }
}
