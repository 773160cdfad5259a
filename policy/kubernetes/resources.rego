# Resource requests and limits on every container.
package kubernetes.resources

import rego.v1

required := [["requests", "cpu"], ["requests", "memory"], ["limits", "cpu"], ["limits", "memory"]]

missing(c) := [sprintf("%s.%s", [kind, res]) |
	some pair in required
	[kind, res] := pair
	not has_value(c, kind, res)
]

has_value(c, kind, res) if {
	v := c.resources[kind][res]
	v != null
	v != ""
}

# METADATA
# title: Containers set CPU and memory requests and limits
# scope: rule
# custom:
#   id: ECOM-K8S-RES-001
#   severity: medium
#   controls:
#     pci_dss: ["6.4.1"]
#     soc2: ["A1.1", "CC7.2"]
#   remediation: Set resources.requests and resources.limits for cpu and memory (the chart takes them from values per service).
deny contains finding if {
	some m in data.kubernetes.lib.workloads
	some c in data.kubernetes.lib.containers(m)
	gaps := missing(c)
	count(gaps) > 0
	finding := data.kubernetes.lib.finding("ECOM-K8S-RES-001", m, sprintf("container %s of %s does not set %v", [c.name, data.kubernetes.lib.id(m), gaps]))
}
