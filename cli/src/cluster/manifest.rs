//! Manifests as the cluster stage handles them: parsed from YAML into JSON objects, named by
//! [`ObjectRef`], and put in the order they are applied.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::fmt;
use yaml_rust2::{Yaml, YamlLoader};

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{source_name}: not valid YAML: {message}")]
    Yaml {
        source_name: String,
        message: String,
    },
    #[error("{source_name}: document {index}: {message}")]
    Invalid {
        source_name: String,
        index: usize,
        message: String,
    },
}

/// Which object: what the API server identifies it by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{} -n {ns}", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

impl ObjectRef {
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(_, v)| v)
            .unwrap_or(&self.api_version)
    }

    /// The apply phase of this kind: CRDs, namespaces, quotas, RBAC and service accounts,
    /// config and secrets, services and policies, workloads, autoscalers and webhooks, then
    /// custom resources (TargetGroupBindings, the Calico `Installation`).
    pub fn phase(&self) -> u8 {
        match self.kind.as_str() {
            "CustomResourceDefinition" => 0,
            "Namespace" => 1,
            "ResourceQuota" | "LimitRange" | "PriorityClass" => 2,
            "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding" => 3,
            "ConfigMap" | "Secret" => 4,
            "Service" | "NetworkPolicy" | "PodDisruptionBudget" | "PersistentVolumeClaim" => 5,
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => 6,
            "HorizontalPodAutoscaler"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration" => 7,
            _ => 8,
        }
    }
}

/// One object to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub id: ObjectRef,
    pub value: Value,
}

fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number((*i).into()),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(r.clone())),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    _ => continue,
                };
                m.insert(key, yaml_to_json(v));
            }
            Value::Object(m)
        }
    }
}

/// Parses a multi-document YAML stream (`helm template` output, priming files) into manifests.
/// Empty documents are skipped; a `List` is flattened. `default_ns` fills in namespaced objects
/// that name none (as `helm install -n` would).
pub fn parse(
    source_name: &str,
    text: &str,
    default_ns: Option<&str>,
) -> Result<Vec<Manifest>, ManifestError> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| ManifestError::Yaml {
        source_name: source_name.into(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        let value = yaml_to_json(doc);
        if value.is_null() {
            continue;
        }
        let items = match value.get("kind").and_then(Value::as_str) {
            Some(k) if k.ends_with("List") => {
                value["items"].as_array().cloned().unwrap_or_default()
            }
            _ => vec![value],
        };
        for value in items {
            let invalid = |message: &str| ManifestError::Invalid {
                source_name: source_name.into(),
                index: index + 1,
                message: message.into(),
            };
            let field = |k: &str| value.get(k).and_then(Value::as_str).map(String::from);
            let api_version = field("apiVersion").ok_or_else(|| invalid("no apiVersion"))?;
            let kind = field("kind").ok_or_else(|| invalid("no kind"))?;
            let name = value["metadata"]["name"]
                .as_str()
                .map(String::from)
                .ok_or_else(|| invalid("no metadata.name"))?;
            let namespace = value["metadata"]["namespace"].as_str().map(String::from);
            let mut m = Manifest {
                id: ObjectRef {
                    api_version,
                    kind,
                    namespace,
                    name,
                },
                value,
            };
            if m.id.namespace.is_none() && !cluster_scoped(&m.id.kind) {
                if let Some(ns) = default_ns {
                    m.id.namespace = Some(ns.to_string());
                    m.value["metadata"]["namespace"] = Value::String(ns.to_string());
                }
            }
            out.push(m);
        }
    }
    Ok(out)
}

/// Kinds that live outside namespaces (those a release of ours can contain).
pub fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "CustomResourceDefinition"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "PriorityClass"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "StorageClass"
            | "IngressClass"
            | "APIService"
    )
}

/// Sorts into apply order (phase, then name, so the order is stable).
pub fn sort(manifests: &mut [Manifest]) {
    manifests.sort_by(|a, b| (a.id.phase(), &a.id).cmp(&(b.id.phase(), &b.id)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documents_and_orders_by_dependency() {
        let text = "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n\
                    ---\n# empty\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n\
                    ---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.y}\n";
        let mut m = parse("t.yaml", text, Some("shop")).unwrap();
        sort(&mut m);
        let kinds: Vec<&str> = m.iter().map(|m| m.id.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["CustomResourceDefinition", "Namespace", "Deployment"]
        );
        assert_eq!(m[2].id.namespace.as_deref(), Some("shop"));
        assert_eq!(m[2].value["spec"]["replicas"], 2);
        assert_eq!(m[1].id.namespace, None);
    }

    #[test]
    fn a_document_without_a_name_is_refused_with_its_index() {
        let err = parse(
            "chart",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("chart: document 1: no metadata.name"), "{err}");
    }
}
