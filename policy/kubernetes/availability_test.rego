package kubernetes.availability_test

import rego.v1

# Builders from kubernetes.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
container(name, image) := data.kubernetes.lib_test.container(name, image)

pod_spec(containers) := data.kubernetes.lib_test.pod_spec(containers)

deployment(name, replicas, spec) := data.kubernetes.lib_test.deployment(name, replicas, spec)

good_deployment(name) := data.kubernetes.lib_test.good_deployment(name)

manifests(objs) := data.kubernetes.lib_test.manifests(objs)

has_id(findings, rule_id) if data.kubernetes.lib_test.has_id(findings, rule_id)

denials(objs) := d if {
	d := data.kubernetes.availability.deny with input as manifests(objs)
}

pdb(name, labels) := {
	"apiVersion": "policy/v1",
	"kind": "PodDisruptionBudget",
	"metadata": {"name": name, "namespace": "shop"},
	"spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels}},
}

scaled := deployment("catalog", 3, pod_spec([container("catalog", "r/c:1")]))

test_pdb_001_missing_denied if has_id(denials([scaled]), "ECOM-K8S-PDB-001")

test_pdb_001_matching_pdb_passes if count(denials([scaled, pdb("catalog", {"app": "catalog"})])) == 0

test_pdb_001_wrong_selector_denied if has_id(denials([scaled, pdb("catalog", {"app": "orders"})]), "ECOM-K8S-PDB-001")

test_pdb_001_other_namespace_denied if {
	p := object.union(pdb("catalog", {"app": "catalog"}), {"metadata": {"namespace": "other"}})
	has_id(denials([scaled, p]), "ECOM-K8S-PDB-001")
}

test_pdb_001_single_replica_passes if count(denials([good_deployment("catalog")])) == 0
