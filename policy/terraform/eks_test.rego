package terraform.eks_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.eks.deny with input as plan(changes)
}

good := {
	"name": "shop-prod",
	"enabled_cluster_log_types": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
	"encryption_config": [{"resources": ["secrets"], "provider": [{"key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1"}]}],
	"vpc_config": [{"endpoint_private_access": true, "endpoint_public_access": true, "public_access_cidrs": ["203.0.113.0/24"]}],
}

cluster(overrides) := rc("aws_eks_cluster", "this", object.union(good, overrides))

test_compliant_cluster_passes if count(denials([cluster({})])) == 0

test_eks_001_no_encryption_denied if has_id(denials([cluster({"encryption_config": []})]), "ECOM-TF-EKS-001")

test_eks_002_partial_logging_denied if {
	findings := denials([cluster({"enabled_cluster_log_types": ["api"]})])
	some f in findings
	f.id == "ECOM-TF-EKS-002"
	contains(f.msg, "audit")
}

test_eks_002_null_logging_denied if has_id(denials([cluster({"enabled_cluster_log_types": null})]), "ECOM-TF-EKS-002")

test_eks_003_world_open_endpoint_denied if {
	v := [{"endpoint_private_access": true, "endpoint_public_access": true, "public_access_cidrs": ["0.0.0.0/0"]}]
	has_id(denials([cluster({"vpc_config": v})]), "ECOM-TF-EKS-003")
}

test_eks_003_private_endpoint_passes if {
	v := [{"endpoint_private_access": true, "endpoint_public_access": false, "public_access_cidrs": ["0.0.0.0/0"]}]
	not has_id(denials([cluster({"vpc_config": v})]), "ECOM-TF-EKS-003")
}
