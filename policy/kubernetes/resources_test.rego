package kubernetes.resources_test

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
	d := data.kubernetes.resources.deny with input as manifests(objs)
}

test_res_001_complete_passes if count(denials([good_deployment("catalog")])) == 0

test_res_001_no_limits_denied if {
	c := object.union(object.remove(container("catalog", "r/c:1"), ["resources"]), {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}})
	some f in denials([deployment("catalog", 1, pod_spec([c]))])
	f.id == "ECOM-K8S-RES-001"
	contains(f.msg, "limits.memory")
}

test_res_001_no_resources_denied if {
	c := object.remove(container("catalog", "r/c:1"), ["resources"])
	has_id(denials([deployment("catalog", 1, pod_spec([c]))]), "ECOM-K8S-RES-001")
}
