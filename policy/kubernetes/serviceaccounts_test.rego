package kubernetes.serviceaccounts_test

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
	d := data.kubernetes.serviceaccounts.deny with input as manifests(objs)
}

automounting := deployment("catalog", 1, object.union(pod_spec([container("catalog", "r/c:1")]), {"automountServiceAccountToken": true, "serviceAccountName": "catalog"}))

inheriting := deployment("catalog", 1, object.union(object.remove(pod_spec([container("catalog", "r/c:1")]), ["automountServiceAccountToken"]), {"serviceAccountName": "catalog"}))

sa(automount) := {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "catalog", "namespace": "shop"}, "automountServiceAccountToken": automount}

binding := {
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind": "RoleBinding",
	"metadata": {"name": "catalog-leader-election", "namespace": "shop"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "leases"},
	"subjects": [{"kind": "ServiceAccount", "name": "catalog"}],
}

test_sa_001_disabled_on_pod_passes if count(denials([good_deployment("catalog")])) == 0

test_sa_001_unused_token_denied if has_id(denials([automounting]), "ECOM-K8S-SA-001")

test_sa_001_default_is_mounted if has_id(denials([inheriting]), "ECOM-K8S-SA-001")

test_sa_001_disabled_on_service_account_passes if count(denials([inheriting, sa(false)])) == 0

test_sa_001_bound_account_may_mount if count(denials([automounting, binding])) == 0
