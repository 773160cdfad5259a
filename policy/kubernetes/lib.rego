# Helpers shared by the Kubernetes manifest rules. This package has no deny or warn rules.
#
# Input: {"manifests": [ ...every rendered object... ]}: the whole set at once, so that rules
# can relate objects (a PodDisruptionBudget to its workload, NetworkPolicies to a namespace).
# Extra context from ecomctl arrives as data.ecomctl (see policy/README.md).
package kubernetes.lib

import rego.v1

# Other packages refer to this one by its full path (data.kubernetes.lib.x) rather than through
# `import`: regorus resolves imported rules but not imported function names.

manifests := [m |
	some m in list(input.manifests)
	is_object(m)
]

template_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

workload_kinds := template_kinds | {"CronJob", "Pod"}

# Objects that run pods.
workloads := [m |
	some m in manifests
	m.kind in workload_kinds
]

cluster_scoped_kinds := {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "CustomResourceDefinition", "PriorityClass", "IngressClass"}

namespace(m) := ns if {
	ns := m.metadata.namespace
	is_string(ns)
	ns != ""
} else := "default"

# The address used in findings: Kind/namespace/name, or Kind/name for cluster-scoped kinds.
id(m) := sprintf("%s/%s", [m.kind, m.metadata.name]) if m.kind in cluster_scoped_kinds

id(m) := sprintf("%s/%s/%s", [m.kind, namespace(m), m.metadata.name]) if not m.kind in cluster_scoped_kinds

pod_template(m) := m if m.kind == "Pod"

pod_template(m) := m.spec.template if m.kind in template_kinds

pod_template(m) := m.spec.jobTemplate.spec.template if m.kind == "CronJob"

pod_spec(m) := object.get(pod_template(m), "spec", {})

pod_labels(m) := l if {
	l := pod_template(m).metadata.labels
	is_object(l)
} else := {}

# A JSON list, or [] for null or absent (regorus raises an error on `some x in null`).
list(x) := x if {
	is_array(x)
} else := []

# Every container of a workload (init and ephemeral ones too) as {"container", "spec"}.
containers(m) := [c |
	spec := pod_spec(m)
	some field in ["initContainers", "containers", "ephemeralContainers"]
	some c in list(object.get(spec, field, []))
]

# A securityContext setting of a container, falling back to the pod-level securityContext.
effective(spec, c, key) := v if {
	v := c.securityContext[key]
	v != null
} else := v if {
	v := spec.securityContext[key]
	v != null
}

# Replica count of a workload that can be scaled (1 when unset).
replicas(m) := n if {
	m.kind in {"Deployment", "StatefulSet", "ReplicaSet"}
	n := object.get(m.spec, "replicas", 1)
	is_number(n)
}

is_prod if data.ecomctl.environment in {"prod", "production"}

finding(rule_id, m, msg) := {"id": rule_id, "msg": msg, "resource": id(m)}
