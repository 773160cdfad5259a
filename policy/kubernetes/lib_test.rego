# Tests for kubernetes.lib, and the manifest builders the other *_test.rego files share.
package kubernetes.lib_test

import rego.v1

secure_context := {
	"runAsNonRoot": true,
	"allowPrivilegeEscalation": false,
	"readOnlyRootFilesystem": true,
	"privileged": false,
	"capabilities": {"drop": ["ALL"]},
	"seccompProfile": {"type": "RuntimeDefault"},
}

container(name, image) := {
	"name": name,
	"image": image,
	"securityContext": secure_context,
	"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
}

pod_spec(containers) := {
	"automountServiceAccountToken": false,
	"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
	"containers": containers,
}

# A Deployment in namespace shop whose pods are labelled app=<name>.
deployment(name, replicas, spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": name, "namespace": "shop"},
	"spec": {
		"replicas": replicas,
		"selector": {"matchLabels": {"app": name}},
		"template": {"metadata": {"labels": {"app": name}}, "spec": spec},
	},
}

good_deployment(name) := deployment(name, 1, pod_spec([container(name, "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/catalog:1.4.2@sha256:0d8ac3a9b9b8e1e2f3a4b5c6d7e8f90123456789abcdef0123456789abcdef01")]))

manifests(objs) := {"manifests": objs}

has_id(findings, rule_id) if {
	some f in findings
	f.id == rule_id
}

test_id_is_kind_namespace_name if {
	data.kubernetes.lib.id({"kind": "Deployment", "metadata": {"name": "catalog", "namespace": "shop"}}) == "Deployment/shop/catalog"
	data.kubernetes.lib.id({"kind": "Pod", "metadata": {"name": "p"}}) == "Pod/default/p"
	data.kubernetes.lib.id({"kind": "Namespace", "metadata": {"name": "shop"}}) == "Namespace/shop"
}

test_pod_spec_of_each_kind if {
	spec := {"containers": [{"name": "c"}]}
	data.kubernetes.lib.pod_spec({"kind": "Pod", "spec": spec}) == spec
	data.kubernetes.lib.pod_spec({"kind": "StatefulSet", "spec": {"template": {"spec": spec}}}) == spec
	data.kubernetes.lib.pod_spec({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}) == spec
}

test_containers_include_init_containers if {
	m := {"kind": "Pod", "spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}]}}
	{c.name | some c in data.kubernetes.lib.containers(m)} == {"migrate", "app"}
}

test_effective_prefers_container_setting if {
	spec := {"securityContext": {"runAsNonRoot": true}}
	data.kubernetes.lib.effective(spec, {"securityContext": {"runAsNonRoot": false}}, "runAsNonRoot") == false
	data.kubernetes.lib.effective(spec, {}, "runAsNonRoot") == true
}

test_non_objects_ignored if {
	count(data.kubernetes.lib.workloads) == 1 with input as {"manifests": [null, "x", {"kind": "Pod", "metadata": {"name": "p"}, "spec": {}}]}
}

test_missing_or_null_manifests_give_no_workloads if {
	count(data.kubernetes.lib.workloads) == 0 with input as {"manifests": null}
	count(data.kubernetes.lib.workloads) == 0 with input as {}
}
