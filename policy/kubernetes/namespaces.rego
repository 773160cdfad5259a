# Namespaces: Pod Security admission labels.
package kubernetes.namespaces

import rego.v1

enforce_label := "pod-security.kubernetes.io/enforce"

namespaces := [n | some n in data.kubernetes.lib.manifests; n.kind == "Namespace"]

level(n) := l if {
	l := n.metadata.labels[enforce_label]
	is_string(l)
} else := ""

# METADATA
# title: Namespaces enforce a Pod Security Standard
# description: Every Namespace carries pod-security.kubernetes.io/enforce set to restricted or baseline.
# scope: rule
# custom:
#   id: ECOM-K8S-NS-001
#   severity: high
#   controls:
#     pci_dss: ["2.2.1"]
#     soc2: ["CC6.8"]
#   remediation: Label the namespace pod-security.kubernetes.io/enforce=restricted (with the matching -version label).
deny contains finding if {
	some n in namespaces
	not level(n) in {"restricted", "baseline"}
	finding := data.kubernetes.lib.finding("ECOM-K8S-NS-001", n, sprintf("namespace %s does not enforce a Pod Security Standard (%s is \"%s\")", [n.metadata.name, enforce_label, level(n)]))
}

# METADATA
# title: Namespaces enforce the restricted Pod Security Standard
# scope: rule
# custom:
#   id: ECOM-K8S-NS-002
#   severity: low
#   controls:
#     pci_dss: ["2.2.1"]
#     soc2: ["CC6.8"]
#   remediation: Move the namespace from baseline to restricted once its pods comply.
warn contains finding if {
	some n in namespaces
	level(n) == "baseline"
	finding := data.kubernetes.lib.finding("ECOM-K8S-NS-002", n, sprintf("namespace %s enforces only the baseline Pod Security Standard", [n.metadata.name]))
}
