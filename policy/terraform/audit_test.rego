package terraform.audit_test

import rego.v1

rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

good_trail := {
	"name": "shop-prod-trail",
	"enable_log_file_validation": true,
	"is_multi_region_trail": true,
	"include_global_service_events": true,
	"kms_key_id": "arn:aws:kms:us-east-1:111111111111:key/audit",
}

trail_denials(overrides) := d if {
	d := data.terraform.audit.deny with input as plan([rc("aws_cloudtrail", "this", object.union(good_trail, overrides))])
}

test_compliant_trail_passes if count(trail_denials({})) == 0

test_aud_001_no_validation_denied if has_id(trail_denials({"enable_log_file_validation": false}), "ECOM-TF-AUD-001")

test_aud_001_unset_validation_denied if has_id(trail_denials({"enable_log_file_validation": null}), "ECOM-TF-AUD-001")

test_aud_002_single_region_denied if has_id(trail_denials({"is_multi_region_trail": false}), "ECOM-TF-AUD-002")

test_aud_002_no_global_events_denied if has_id(trail_denials({"include_global_service_events": false}), "ECOM-TF-AUD-002")

test_aud_003_no_kms_denied if has_id(trail_denials({"kms_key_id": null}), "ECOM-TF-AUD-003")

test_aud_003_unknown_kms_passes if {
	r := data.terraform.lib_test.rc_unknown("aws_cloudtrail", "this", object.remove(good_trail, ["kms_key_id"]), {"kms_key_id": true})
	findings := data.terraform.audit.deny with input as plan([r])
	not has_id(findings, "ECOM-TF-AUD-003")
}

test_aud_004_disabled_detector_denied if {
	findings := data.terraform.audit.deny with input as plan([rc("aws_guardduty_detector", "this", {"enable": false})])
	has_id(findings, "ECOM-TF-AUD-004")
}

test_aud_004_enabled_detector_passes if {
	findings := data.terraform.audit.deny with input as plan([rc("aws_guardduty_detector", "this", {"enable": true})])
	count(findings) == 0
}

test_aud_005_partial_recorder_denied if {
	r := rc("aws_config_configuration_recorder", "this", {"name": "default", "recording_group": [{"all_supported": false, "resource_types": ["AWS::S3::Bucket"]}]})
	findings := data.terraform.audit.deny with input as plan([r])
	has_id(findings, "ECOM-TF-AUD-005")
}

test_aud_005_all_supported_passes if {
	r := rc("aws_config_configuration_recorder", "this", {"name": "default", "recording_group": [{"all_supported": true, "include_global_resource_types": true}]})
	findings := data.terraform.audit.deny with input as plan([r])
	count(findings) == 0
}
