package kubernetes.namespaces_test

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
	d := data.kubernetes.namespaces.deny with input as manifests(objs)
}

warnings(objs) := w if {
	w := data.kubernetes.namespaces.warn with input as manifests(objs)
}

ns(labels) := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": labels}}

test_ns_001_restricted_passes if {
	n := ns({"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"})
	count(denials([n])) == 0
	count(warnings([n])) == 0
}

test_ns_001_unlabelled_denied if {
	some f in denials([ns({})])
	f.id == "ECOM-K8S-NS-001"
	f.resource == "Namespace/shop"
}

test_ns_001_privileged_denied if has_id(denials([ns({"pod-security.kubernetes.io/enforce": "privileged"})]), "ECOM-K8S-NS-001")

test_ns_002_baseline_warns if {
	n := ns({"pod-security.kubernetes.io/enforce": "baseline"})
	count(denials([n])) == 0
	has_id(warnings([n]), "ECOM-K8S-NS-002")
}
