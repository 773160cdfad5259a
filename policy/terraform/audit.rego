# Audit trail and threat detection: CloudTrail with log file validation, multi-region and KMS;
# GuardDuty detectors enabled; AWS Config recording every supported resource.
package terraform.audit

import rego.v1

trails := data.terraform.lib.of_type("aws_cloudtrail")

# METADATA
# title: CloudTrail validates its log files
# scope: rule
# custom:
#   id: ECOM-TF-AUD-001
#   severity: high
#   controls:
#     pci_dss: ["10.3.2", "10.3.4"]
#     soc2: ["CC7.2"]
#   remediation: Set enable_log_file_validation = true so tampering with delivered logs is detectable.
deny contains finding if {
	some r in trails
	not data.terraform.lib.enabled(r, "enable_log_file_validation")
	finding := {
		"id": "ECOM-TF-AUD-001",
		"msg": sprintf("trail %s does not validate its log files (enable_log_file_validation is not true)", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: CloudTrail records every region
# scope: rule
# custom:
#   id: ECOM-TF-AUD-002
#   severity: high
#   controls:
#     pci_dss: ["10.2.1"]
#     soc2: ["CC7.2"]
#   remediation: Set is_multi_region_trail = true and include_global_service_events = true.
deny contains finding if {
	some r in trails
	not multi_region(r)
	finding := {
		"id": "ECOM-TF-AUD-002",
		"msg": sprintf("trail %s does not record every region and global service events", [r.address]),
		"resource": r.address,
	}
}

multi_region(r) if {
	data.terraform.lib.enabled(r, "is_multi_region_trail")
	object.get(r.values, "include_global_service_events", true) != false
}

# METADATA
# title: CloudTrail logs are encrypted with a customer KMS key
# scope: rule
# custom:
#   id: ECOM-TF-AUD-003
#   severity: medium
#   controls:
#     pci_dss: ["3.5.1", "10.3.2"]
#     soc2: ["CC6.1"]
#   remediation: Set kms_key_id to the audit key of the shared-services account.
deny contains finding if {
	some r in trails
	not data.terraform.lib.is_set(r, "kms_key_id")
	finding := {
		"id": "ECOM-TF-AUD-003",
		"msg": sprintf("trail %s does not encrypt its logs with a KMS key (kms_key_id is unset)", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: GuardDuty detectors are enabled
# scope: rule
# custom:
#   id: ECOM-TF-AUD-004
#   severity: high
#   controls:
#     pci_dss: ["11.5.1"]
#     soc2: ["CC7.2"]
#   remediation: Set enable = true on aws_guardduty_detector.
deny contains finding if {
	some r in data.terraform.lib.of_type("aws_guardduty_detector")
	object.get(r.values, "enable", true) == false
	finding := {
		"id": "ECOM-TF-AUD-004",
		"msg": sprintf("GuardDuty detector %s is disabled", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: AWS Config records every supported resource type
# scope: rule
# custom:
#   id: ECOM-TF-AUD-005
#   severity: medium
#   controls:
#     pci_dss: ["1.2.7", "2.2.1"]
#     soc2: ["CC7.1", "CC8.1"]
#   remediation: Set recording_group { all_supported = true }.
deny contains finding if {
	some r in data.terraform.lib.of_type("aws_config_configuration_recorder")
	not records_all(r)
	finding := {
		"id": "ECOM-TF-AUD-005",
		"msg": sprintf("AWS Config recorder %s does not record every supported resource type", [r.address]),
		"resource": r.address,
	}
}

records_all(r) if {
	some g in data.terraform.lib.list(r.values.recording_group)
	g.all_supported == true
}

records_all(r) if data.terraform.lib.is_unknown(r, "recording_group")
