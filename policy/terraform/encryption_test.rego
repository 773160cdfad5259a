package terraform.encryption_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.encryption.deny with input as plan(changes)
}

key := "arn:aws:kms:eu-west-1:111122223333:key/1"

test_enc_001_unencrypted_volume_denied if {
	has_id(denials([rc("aws_ebs_volume", "data", {"encrypted": false, "size": 20})]), "ECOM-TF-ENC-001")
}

test_enc_001_encrypted_volume_passes if {
	count(denials([rc("aws_ebs_volume", "data", {"encrypted": true, "kms_key_id": key})])) == 0
}

test_enc_001_launch_template_string_true_passes if {
	lt := rc("aws_launch_template", "nodes", {"block_device_mappings": [{"device_name": "/dev/xvda", "ebs": [{"encrypted": "true", "volume_size": 50}]}]})
	count(denials([lt])) == 0
}

test_enc_001_launch_template_unencrypted_denied if {
	lt := rc("aws_launch_template", "nodes", {"block_device_mappings": [{"device_name": "/dev/xvda", "ebs": [{"encrypted": "", "volume_size": 50}]}]})
	has_id(denials([lt]), "ECOM-TF-ENC-001")
}

test_enc_002_sns_without_key_denied if {
	has_id(denials([rc("aws_sns_topic", "alarms", {"name": "alarms", "kms_master_key_id": null})]), "ECOM-TF-ENC-002")
}

test_enc_002_sns_with_unknown_key_passes if {
	t := rc_unknown("aws_sns_topic", "alarms", {"name": "alarms"}, {"kms_master_key_id": true})
	count(denials([t])) == 0
}

test_enc_003_log_group_without_key_denied if {
	has_id(denials([rc("aws_cloudwatch_log_group", "app", {"name": "/shop/app", "kms_key_id": ""})]), "ECOM-TF-ENC-003")
}

test_enc_003_log_group_with_key_passes if {
	count(denials([rc("aws_cloudwatch_log_group", "app", {"name": "/shop/app", "kms_key_id": key})])) == 0
}
