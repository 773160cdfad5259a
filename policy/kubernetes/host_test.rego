package kubernetes.host_test

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
	d := data.kubernetes.host.deny with input as manifests(objs)
}

spec_with(extra) := object.union(pod_spec([container("agent", "registry.example/agent:2.1")]), extra)

test_host_001_host_network_denied if has_id(denials([deployment("agent", 1, spec_with({"hostNetwork": true}))]), "ECOM-K8S-HOST-001")

test_host_001_host_pid_denied if has_id(denials([deployment("agent", 1, spec_with({"hostPID": true}))]), "ECOM-K8S-HOST-001")

test_host_001_defaults_pass if count(denials([deployment("agent", 1, spec_with({"hostNetwork": false}))])) == 0

test_host_002_host_path_denied if {
	has_id(denials([deployment("agent", 1, spec_with({"volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]}))]), "ECOM-K8S-HOST-002")
}

test_host_002_empty_dir_passes if count(denials([deployment("agent", 1, spec_with({"volumes": [{"name": "tmp", "emptyDir": {}}]}))])) == 0
