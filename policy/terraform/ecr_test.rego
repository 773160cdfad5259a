package terraform.ecr_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.ecr.deny with input as plan(changes)
}

good := {
	"name": "shop/catalog",
	"image_tag_mutability": "IMMUTABLE",
	"image_scanning_configuration": [{"scan_on_push": true}],
	"encryption_configuration": [{"encryption_type": "KMS", "kms_key": "arn:aws:kms:eu-west-1:111122223333:key/1"}],
}

repo(overrides) := rc("aws_ecr_repository", "catalog", object.union(good, overrides))

test_compliant_repository_passes if count(denials([repo({})])) == 0

test_ecr_001_mutable_denied if has_id(denials([repo({"image_tag_mutability": "MUTABLE"})]), "ECOM-TF-ECR-001")

test_ecr_002_no_scan_denied if has_id(denials([repo({"image_scanning_configuration": [{"scan_on_push": false}]})]), "ECOM-TF-ECR-002")

test_ecr_002_registry_scanning_passes if {
	reg := rc("aws_ecr_registry_scanning_configuration", "this", {"scan_type": "ENHANCED", "rule": [{"scan_frequency": "CONTINUOUS_SCAN", "repository_filter": [{"filter": "*", "filter_type": "WILDCARD"}]}]})
	not has_id(denials([repo({"image_scanning_configuration": null}), reg]), "ECOM-TF-ECR-002")
}

test_ecr_003_aes_denied if has_id(denials([repo({"encryption_configuration": [{"encryption_type": "AES256"}]})]), "ECOM-TF-ECR-003")
