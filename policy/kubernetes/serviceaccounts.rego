# Service accounts: API tokens are only mounted into pods whose account is bound to a role.
package kubernetes.serviceaccounts

import rego.v1

service_account(m) := sa if {
	sa := data.kubernetes.lib.pod_spec(m).serviceAccountName
	is_string(sa)
	sa != ""
} else := "default"

# The ServiceAccount object for (namespace, name) when it is among the manifests.
account(ns, name) := a if {
	some a in data.kubernetes.lib.manifests
	a.kind == "ServiceAccount"
	a.metadata.name == name
	data.kubernetes.lib.namespace(a) == ns
}

# Whether the token is mounted: the pod's setting, else the ServiceAccount's, else true.
automounts(m) := v if {
	v := data.kubernetes.lib.pod_spec(m).automountServiceAccountToken
	is_boolean(v)
} else := v if {
	v := account(data.kubernetes.lib.namespace(m), service_account(m)).automountServiceAccountToken
	is_boolean(v)
} else := true

# The account is a subject of a RoleBinding or ClusterRoleBinding, so it talks to the API.
bound(ns, name) if {
	some b in data.kubernetes.lib.manifests
	b.kind in {"RoleBinding", "ClusterRoleBinding"}
	some s in data.kubernetes.lib.list(b.subjects)
	s.kind == "ServiceAccount"
	s.name == name
	object.get(s, "namespace", data.kubernetes.lib.namespace(b)) == ns
}

# METADATA
# title: Service account tokens are not mounted where unused
# description: A pod whose service account has no RoleBinding or ClusterRoleBinding sets automountServiceAccountToken to false (on the pod or its ServiceAccount).
# scope: rule
# custom:
#   id: ECOM-K8S-SA-001
#   severity: medium
#   controls:
#     pci_dss: ["7.2.2", "7.2.5"]
#     soc2: ["CC6.1", "CC6.3"]
#   remediation: Set automountServiceAccountToken false on the pod template or the ServiceAccount; IRSA does not need it.
deny contains finding if {
	some m in data.kubernetes.lib.workloads
	automounts(m)
	ns := data.kubernetes.lib.namespace(m)
	sa := service_account(m)
	not bound(ns, sa)
	finding := data.kubernetes.lib.finding("ECOM-K8S-SA-001", m, sprintf("%s mounts the API token of service account %s, which is bound to no role", [data.kubernetes.lib.id(m), sa]))
}
