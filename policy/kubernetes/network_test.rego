package kubernetes.network_test

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
	d := data.kubernetes.network.deny with input as manifests(objs)
}

default_deny(types) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "default-deny", "namespace": "shop"},
	"spec": {"podSelector": {}, "policyTypes": types},
}

allow_web := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "NetworkPolicy",
	"metadata": {"name": "allow-web", "namespace": "shop"},
	"spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"namespaceSelector": {}}]}]},
}

test_net_001_default_deny_passes if count(denials([good_deployment("catalog"), default_deny(["Ingress", "Egress"])])) == 0

test_net_001_missing_policy_denied if {
	some f in denials([good_deployment("catalog")])
	f.id == "ECOM-K8S-NET-001"
	f.resource == "Namespace/shop"
}

test_net_001_ingress_only_denied if has_id(denials([good_deployment("catalog"), default_deny(["Ingress"])]), "ECOM-K8S-NET-001")

test_net_001_allow_all_is_not_default_deny if has_id(denials([good_deployment("catalog"), allow_web, default_deny(["Egress"])]), "ECOM-K8S-NET-001")

test_net_001_namespace_without_workloads_passes if count(denials([default_deny(["Ingress"])])) == 0
