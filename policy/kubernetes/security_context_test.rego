package kubernetes.security_context_test

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
	d := data.kubernetes.security_context.deny with input as manifests(objs)
}

image := "registry.example/shop/catalog:1.0.0"

# A deployment whose only container has the given securityContext (pod-level context removed).
# (object.union merges nested objects, so keys are removed first and then set.)
with_context(ctx) := deployment("catalog", 1, object.remove(pod_spec([replace(container("catalog", image), "securityContext", ctx)]), ["securityContext"]))

replace(obj, key, value) := object.union(object.remove(obj, [key]), {key: value})

base := data.kubernetes.lib_test.secure_context

test_secure_deployment_passes if count(denials([good_deployment("catalog")])) == 0

test_sc_001_missing_run_as_non_root_denied if has_id(denials([with_context(object.remove(base, ["runAsNonRoot"]))]), "ECOM-K8S-SC-001")

test_sc_001_uid_zero_denied if has_id(denials([with_context(object.union(base, {"runAsUser": 0}))]), "ECOM-K8S-SC-001")

test_sc_001_pod_level_passes if {
	d := deployment("catalog", 1, pod_spec([replace(container("catalog", image), "securityContext", object.remove(base, ["runAsNonRoot"]))]))
	not has_id(denials([d]), "ECOM-K8S-SC-001")
}

test_sc_001_init_container_checked if {
	spec := object.union(pod_spec([container("catalog", image)]), {"initContainers": [{"name": "migrate", "image": image, "securityContext": object.union(base, {"runAsNonRoot": false})}]})
	has_id(denials([deployment("catalog", 1, spec)]), "ECOM-K8S-SC-001")
}

test_sc_002_no_drop_denied if has_id(denials([with_context(object.union(base, {"capabilities": {"drop": ["NET_RAW"]}}))]), "ECOM-K8S-SC-002")

test_sc_002_added_capability_denied if has_id(denials([with_context(object.union(base, {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}))]), "ECOM-K8S-SC-002")

test_sc_002_net_bind_service_passes if not has_id(denials([with_context(object.union(base, {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}))]), "ECOM-K8S-SC-002")

test_sc_003_unconfined_denied if has_id(denials([with_context(object.union(base, {"seccompProfile": {"type": "Unconfined"}}))]), "ECOM-K8S-SC-003")

test_sc_003_missing_denied if has_id(denials([with_context(object.remove(base, ["seccompProfile"]))]), "ECOM-K8S-SC-003")

test_sc_004_writable_root_denied if has_id(denials([with_context(object.union(base, {"readOnlyRootFilesystem": false}))]), "ECOM-K8S-SC-004")

test_sc_004_unset_denied if has_id(denials([with_context(object.remove(base, ["readOnlyRootFilesystem"]))]), "ECOM-K8S-SC-004")

test_sc_005_privileged_denied if has_id(denials([with_context(object.union(base, {"privileged": true}))]), "ECOM-K8S-SC-005")

test_sc_005_unprivileged_passes if not has_id(denials([with_context(base)]), "ECOM-K8S-SC-005")

test_sc_006_escalation_unset_denied if has_id(denials([with_context(object.remove(base, ["allowPrivilegeEscalation"]))]), "ECOM-K8S-SC-006")

test_sc_006_escalation_false_passes if not has_id(denials([with_context(base)]), "ECOM-K8S-SC-006")

test_finding_resource_is_kind_namespace_name if {
	some f in denials([with_context({})])
	f.resource == "Deployment/shop/catalog"
}
