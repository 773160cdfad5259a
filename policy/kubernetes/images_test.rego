package kubernetes.images_test

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
	d := data.kubernetes.images.deny with input as manifests(objs)
}

with_image(image) := deployment("catalog", 1, pod_spec([container("catalog", image)]))

digest := "sha256:0d8ac3a9b9b8e1e2f3a4b5c6d7e8f90123456789abcdef0123456789abcdef01"

prod_deny(objs) := d if {
	d := data.kubernetes.images.deny with input as manifests(objs) with data.ecomctl.environment as "prod"
}

test_img_001_latest_denied if has_id(denials([with_image("registry.example/shop/catalog:latest")]), "ECOM-K8S-IMG-001")

test_img_001_untagged_denied if has_id(denials([with_image("registry.example:5000/shop/catalog")]), "ECOM-K8S-IMG-001")

test_img_001_version_tag_passes if count(denials([with_image("registry.example:5000/shop/catalog:1.4.2")])) == 0

test_img_001_digest_only_passes if count(denials([with_image(concat("@", ["registry.example/shop/catalog", digest]))])) == 0

test_img_002_tag_without_digest_in_prod_denied if has_id(prod_deny([with_image("registry.example/shop/catalog:1.4.2")]), "ECOM-K8S-IMG-002")

test_img_002_digest_in_prod_passes if count(prod_deny([with_image(concat("@", ["registry.example/shop/catalog:1.4.2", digest]))])) == 0

test_img_002_not_required_outside_prod if {
	findings := data.kubernetes.images.deny with input as manifests([with_image("registry.example/shop/catalog:1.4.2")])
		with data.ecomctl.environment as "nonprod"
	count(findings) == 0
}
