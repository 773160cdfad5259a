package terraform.tags_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.tags.deny with input as plan(changes)
}

warnings(changes) := w if {
	w := data.terraform.tags.warn with input as plan(changes)
}

full := {"project": "shop", "environment": "prod", "owner": "platform", "data-classification": "confidential"}

test_tag_001_tags_all_passes if {
	count(denials([rc("aws_sns_topic", "t", {"tags": {}, "tags_all": full})])) == 0
}

test_tag_001_missing_owner_denied if {
	findings := denials([rc("aws_sns_topic", "t", {"tags": null, "tags_all": object.remove(full, ["owner"])})])
	some f in findings
	f.id == "ECOM-TF-TAG-001"
	contains(f.msg, "owner")
}

test_tag_001_empty_value_denied if {
	has_id(denials([rc("aws_sns_topic", "t", {"tags_all": object.union(full, {"owner": " "})})]), "ECOM-TF-TAG-001")
}

test_tag_001_untaggable_ignored if {
	count(denials([rc("aws_s3_bucket_policy", "p", {"bucket": "b", "policy": "{}"})])) == 0
}

test_tag_001_default_tags_from_configuration if {
	doc := object.union(plan([rc("aws_sns_topic", "t", {"tags": {"owner": "platform"}})]), {"configuration": {"provider_config": {"aws": {"expressions": {"default_tags": [{"tags": {"constant_value": object.remove(full, ["owner"])}}]}}}}})
	count(data.terraform.tags.deny) == 0 with input as doc
}

test_tag_001_required_tags_from_data if {
	findings := data.terraform.tags.deny with input as plan([rc("aws_sns_topic", "t", {"tags_all": full})])
		with data.ecomctl.required_tags as ["cost-center"]
	has_id(findings, "ECOM-TF-TAG-001")
}

test_tag_002_unknown_classification_warns if {
	has_id(warnings([rc("aws_sns_topic", "t", {"tags_all": object.union(full, {"data-classification": "secret-ish"})})]), "ECOM-TF-TAG-002")
}

test_tag_002_known_classification_passes if count(warnings([rc("aws_sns_topic", "t", {"tags_all": full})])) == 0
