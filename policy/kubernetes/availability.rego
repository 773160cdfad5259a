# Availability: a PodDisruptionBudget covers every workload that runs more than one replica.
package kubernetes.availability

import rego.v1

pdbs := [p | some p in data.kubernetes.lib.manifests; p.kind == "PodDisruptionBudget"]

selects(p, labels) if {
	selector := object.get(object.get(p.spec, "selector", {}), "matchLabels", {})
	count(selector) > 0
	every k, v in selector {
		labels[k] == v
	}
}

covered(m) if {
	some p in pdbs
	data.kubernetes.lib.namespace(p) == data.kubernetes.lib.namespace(m)
	selects(p, data.kubernetes.lib.pod_labels(m))
}

# METADATA
# title: Multi-replica workloads have a PodDisruptionBudget
# scope: rule
# custom:
#   id: ECOM-K8S-PDB-001
#   severity: medium
#   controls:
#     pci_dss: []
#     soc2: ["A1.1", "A1.2"]
#   remediation: Add a PodDisruptionBudget (minAvailable 1 or maxUnavailable 1) whose selector matches the workload's pod labels.
deny contains finding if {
	some m in data.kubernetes.lib.workloads
	data.kubernetes.lib.replicas(m) > 1
	not covered(m)
	finding := data.kubernetes.lib.finding("ECOM-K8S-PDB-001", m, sprintf("%s runs %v replicas but no PodDisruptionBudget selects its pods", [data.kubernetes.lib.id(m), data.kubernetes.lib.replicas(m)]))
}
