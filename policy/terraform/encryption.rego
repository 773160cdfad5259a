# Encryption at rest for EBS volumes, SNS topics and CloudWatch log groups.
# (S3, RDS, ECR and EKS have their own files.)
package terraform.encryption

import rego.v1

resources_of(t) := data.terraform.lib.of_type(t)

# METADATA
# title: EBS volumes are encrypted
# description: aws_ebs_volume is encrypted, and every EBS block device in a launch template is encrypted.
# scope: rule
# custom:
#   id: ECOM-TF-ENC-001
#   severity: high
#   controls:
#     pci_dss: ["3.5.1"]
#     soc2: ["CC6.1", "CC6.7"]
#   remediation: Set encrypted = true (and kms_key_id) on the volume or on each launch template block device.
deny contains finding if {
	some r in resources_of("aws_ebs_volume")
	not data.terraform.lib.enabled(r, "encrypted")
	finding := {
		"id": "ECOM-TF-ENC-001",
		"msg": sprintf("EBS volume %s is not encrypted", [r.address]),
		"resource": r.address,
	}
}

deny contains finding if {
	some r in resources_of("aws_launch_template")
	some bdm in data.terraform.lib.list(r.values.block_device_mappings)
	some ebs in data.terraform.lib.list(bdm.ebs)
	not ebs.encrypted in {true, "true"}
	finding := {
		"id": "ECOM-TF-ENC-001",
		"msg": sprintf("launch template %s maps %s to an unencrypted EBS volume", [r.address, bdm.device_name]),
		"resource": r.address,
	}
}

# METADATA
# title: SNS topics are encrypted with KMS
# scope: rule
# custom:
#   id: ECOM-TF-ENC-002
#   severity: medium
#   controls:
#     pci_dss: ["3.5.1"]
#     soc2: ["CC6.1"]
#   remediation: Set kms_master_key_id on the topic to the platform key (or alias/aws/sns at least).
deny contains finding if {
	some r in resources_of("aws_sns_topic")
	not data.terraform.lib.is_set(r, "kms_master_key_id")
	finding := {
		"id": "ECOM-TF-ENC-002",
		"msg": sprintf("SNS topic %s is not encrypted (kms_master_key_id is empty)", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: CloudWatch log groups are encrypted with KMS
# scope: rule
# custom:
#   id: ECOM-TF-ENC-003
#   severity: medium
#   controls:
#     pci_dss: ["3.5.1", "10.3.2"]
#     soc2: ["CC6.1", "CC7.2"]
#   remediation: Set kms_key_id on the log group; the key policy must allow the logs service principal.
deny contains finding if {
	some r in resources_of("aws_cloudwatch_log_group")
	not data.terraform.lib.is_set(r, "kms_key_id")
	finding := {
		"id": "ECOM-TF-ENC-003",
		"msg": sprintf("CloudWatch log group %s is not encrypted with KMS (kms_key_id is empty)", [r.address]),
		"resource": r.address,
	}
}
