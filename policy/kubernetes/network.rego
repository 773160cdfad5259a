# Network: every namespace that runs workloads has a default-deny NetworkPolicy.
package kubernetes.network

import rego.v1

policies := [p | some p in data.kubernetes.lib.manifests; p.kind == "NetworkPolicy"]

workload_namespaces := {data.kubernetes.lib.namespace(m) | some m in data.kubernetes.lib.workloads}

# A policy that selects every pod and allows nothing of the given type ("Ingress"/"Egress").
denies_all(ns, type) if {
	some p in policies
	data.kubernetes.lib.namespace(p) == ns
	count(object.get(p.spec, "podSelector", {})) == 0
	type in data.kubernetes.lib.list(p.spec.policyTypes)
	count(data.kubernetes.lib.list(object.get(p.spec, lower(type), []))) == 0
}

# METADATA
# title: Namespaces with workloads have a default-deny NetworkPolicy
# description: A NetworkPolicy with an empty podSelector denies all Ingress and all Egress; specific policies then allow what each service needs.
# scope: rule
# custom:
#   id: ECOM-K8S-NET-001
#   severity: high
#   controls:
#     pci_dss: ["1.2.1", "1.3.1", "1.3.2", "1.4.1"]
#     soc2: ["CC6.6"]
#   remediation: Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules to the namespace.
deny contains finding if {
	some ns in workload_namespaces
	missing := [t | some t in ["Ingress", "Egress"]; not denies_all(ns, t)]
	count(missing) > 0
	finding := {
		"id": "ECOM-K8S-NET-001",
		"msg": sprintf("namespace %s runs workloads but has no default-deny NetworkPolicy for %v", [ns, missing]),
		"resource": sprintf("Namespace/%s", [ns]),
	}
}
