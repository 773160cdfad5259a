# ECR: immutable tags, scan on push, KMS encryption.
package terraform.ecr

import rego.v1

repositories := data.terraform.lib.of_type("aws_ecr_repository")

immutable_settings := {"IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"}

registry_scans_on_push if {
	some r in data.terraform.lib.of_type("aws_ecr_registry_scanning_configuration")
	some rule in data.terraform.lib.list(r.values.rule)
	rule.scan_frequency in {"SCAN_ON_PUSH", "CONTINUOUS_SCAN"}
}

scans_on_push(r) if {
	some c in data.terraform.lib.list(r.values.image_scanning_configuration)
	c.scan_on_push == true
}

scans_on_push(_) if registry_scans_on_push

kms_encrypted(r) if {
	some c in data.terraform.lib.list(r.values.encryption_configuration)
	c.encryption_type in {"KMS", "KMS_DSSE"}
}

# METADATA
# title: ECR repositories have immutable tags
# scope: rule
# custom:
#   id: ECOM-TF-ECR-001
#   severity: medium
#   controls:
#     pci_dss: ["6.5.1"]
#     soc2: ["CC8.1"]
#   remediation: Set image_tag_mutability = "IMMUTABLE".
deny contains finding if {
	some r in repositories
	not r.values.image_tag_mutability in immutable_settings
	finding := {
		"id": "ECOM-TF-ECR-001",
		"msg": sprintf("ECR repository %s allows tags to be overwritten (image_tag_mutability is %v)", [r.address, object.get(r.values, "image_tag_mutability", "unset")]),
		"resource": r.address,
	}
}

# METADATA
# title: ECR images are scanned on push
# description: The repository scans on push, or a registry scanning configuration scans on push or continuously.
# scope: rule
# custom:
#   id: ECOM-TF-ECR-002
#   severity: medium
#   controls:
#     pci_dss: ["6.3.1", "11.3.1"]
#     soc2: ["CC7.1"]
#   remediation: Set image_scanning_configuration { scan_on_push = true } or add aws_ecr_registry_scanning_configuration.
deny contains finding if {
	some r in repositories
	not scans_on_push(r)
	finding := {
		"id": "ECOM-TF-ECR-002",
		"msg": sprintf("ECR repository %s does not scan images on push", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: ECR repositories are encrypted with KMS
# scope: rule
# custom:
#   id: ECOM-TF-ECR-003
#   severity: medium
#   controls:
#     pci_dss: ["3.5.1"]
#     soc2: ["CC6.1"]
#   remediation: Set encryption_configuration { encryption_type = "KMS", kms_key = <key arn> }.
deny contains finding if {
	some r in repositories
	not kms_encrypted(r)
	finding := {
		"id": "ECOM-TF-ECR-003",
		"msg": sprintf("ECR repository %s is not encrypted with KMS", [r.address]),
		"resource": r.address,
	}
}
