# Host isolation: no host namespaces, no hostPath volumes.
package kubernetes.host

import rego.v1

host_namespace_fields := ["hostNetwork", "hostPID", "hostIPC"]

# METADATA
# title: Pods do not share the node's namespaces
# description: hostNetwork, hostPID and hostIPC are not enabled.
# scope: rule
# custom:
#   id: ECOM-K8S-HOST-001
#   severity: high
#   controls:
#     pci_dss: ["1.3.1", "2.2.1"]
#     soc2: ["CC6.1", "CC6.8"]
#   remediation: Remove hostNetwork, hostPID and hostIPC from the pod spec.
deny contains finding if {
	some m in data.kubernetes.lib.workloads
	spec := data.kubernetes.lib.pod_spec(m)
	some field in host_namespace_fields
	spec[field] == true
	finding := data.kubernetes.lib.finding("ECOM-K8S-HOST-001", m, sprintf("%s sets %s: true", [data.kubernetes.lib.id(m), field]))
}

# METADATA
# title: Pods do not mount hostPath volumes
# scope: rule
# custom:
#   id: ECOM-K8S-HOST-002
#   severity: high
#   controls:
#     pci_dss: ["2.2.1", "7.2.2"]
#     soc2: ["CC6.1", "CC6.8"]
#   remediation: Use emptyDir, a ConfigMap/Secret or a PersistentVolumeClaim instead of hostPath.
deny contains finding if {
	some m in data.kubernetes.lib.workloads
	some v in data.kubernetes.lib.list(data.kubernetes.lib.pod_spec(m).volumes)
	v.hostPath
	finding := data.kubernetes.lib.finding("ECOM-K8S-HOST-002", m, sprintf("%s mounts hostPath volume %s (%s)", [data.kubernetes.lib.id(m), v.name, object.get(v.hostPath, "path", "?")]))
}
