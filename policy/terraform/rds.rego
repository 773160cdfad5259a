# RDS: encryption, no public endpoint, multi-AZ and deletion protection in prod, backup floor.
package terraform.rds

import rego.v1

databases := array.concat(data.terraform.lib.of_type("aws_db_instance"), data.terraform.lib.of_type("aws_rds_cluster"))

instances := data.terraform.lib.of_type("aws_db_instance")

# Aurora instances take encryption, backups and multi-AZ from their cluster.
aurora_member(r) if {
	r.type == "aws_db_instance"
	startswith(object.get(r.values, "engine", ""), "aurora")
}

# METADATA
# title: RDS storage is encrypted
# scope: rule
# custom:
#   id: ECOM-TF-RDS-001
#   severity: high
#   controls:
#     pci_dss: ["3.5.1"]
#     soc2: ["CC6.1", "CC6.7"]
#   remediation: Set storage_encrypted = true and kms_key_id to the platform key.
deny contains finding if {
	some r in databases
	not aurora_member(r)
	not data.terraform.lib.enabled(r, "storage_encrypted")
	finding := {
		"id": "ECOM-TF-RDS-001",
		"msg": sprintf("%s does not encrypt its storage (storage_encrypted is not true)", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: RDS instances are not publicly accessible
# scope: rule
# custom:
#   id: ECOM-TF-RDS-002
#   severity: high
#   controls:
#     pci_dss: ["1.3.1", "1.4.4"]
#     soc2: ["CC6.6"]
#   remediation: Set publicly_accessible = false and place the instance in private database subnets.
deny contains finding if {
	some r in instances
	r.values.publicly_accessible == true
	finding := {
		"id": "ECOM-TF-RDS-002",
		"msg": sprintf("%s is publicly accessible", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: Production RDS instances are multi-AZ
# scope: rule
# custom:
#   id: ECOM-TF-RDS-003
#   severity: medium
#   controls:
#     pci_dss: []
#     soc2: ["A1.2"]
#   remediation: Set multi_az = true for prod.
deny contains finding if {
	some r in instances
	not aurora_member(r)
	data.terraform.lib.is_prod(r)
	not data.terraform.lib.enabled(r, "multi_az")
	finding := {
		"id": "ECOM-TF-RDS-003",
		"msg": sprintf("%s is not multi-AZ in prod", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: Production databases have deletion protection
# scope: rule
# custom:
#   id: ECOM-TF-RDS-004
#   severity: medium
#   controls:
#     pci_dss: []
#     soc2: ["A1.2", "CC6.1"]
#   remediation: Set deletion_protection = true for prod.
deny contains finding if {
	some r in databases
	not aurora_member(r)
	data.terraform.lib.is_prod(r)
	not data.terraform.lib.enabled(r, "deletion_protection")
	finding := {
		"id": "ECOM-TF-RDS-004",
		"msg": sprintf("%s has no deletion protection in prod", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: Database backups are kept for at least the retention floor
# description: backup_retention_period is at least data.ecomctl.min_backup_retention_days (default 7).
# scope: rule
# custom:
#   id: ECOM-TF-RDS-005
#   severity: medium
#   controls:
#     pci_dss: ["12.10.1"]
#     soc2: ["A1.2", "A1.3"]
#   remediation: Set backup_retention_period to at least the floor (7 days by default).
deny contains finding if {
	some r in databases
	not aurora_member(r)
	not data.terraform.lib.is_unknown(r, "backup_retention_period")
	days := object.get(r.values, "backup_retention_period", 0)
	days < data.terraform.lib.min_backup_retention_days
	finding := {
		"id": "ECOM-TF-RDS-005",
		"msg": sprintf("%s keeps backups for %v days; the floor is %v", [r.address, days, data.terraform.lib.min_backup_retention_days]),
		"resource": r.address,
	}
}

# METADATA
# title: RDS PostgreSQL instances use IAM database authentication
# scope: rule
# custom:
#   id: ECOM-TF-RDS-006
#   severity: low
#   controls:
#     pci_dss: ["8.3.1"]
#     soc2: ["CC6.1"]
#   remediation: Set iam_database_authentication_enabled = true so people and workloads sign in with short-lived IAM tokens instead of shared passwords.
deny contains finding if {
	some r in instances
	not aurora_member(r)
	startswith(object.get(r.values, "engine", ""), "postgres")
	not replica(r)
	not data.terraform.lib.enabled(r, "iam_database_authentication_enabled")
	finding := {
		"id": "ECOM-TF-RDS-006",
		"msg": sprintf("%s does not enable IAM database authentication", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: PostgreSQL parameter groups refuse connections without TLS
# scope: rule
# custom:
#   id: ECOM-TF-RDS-007
#   severity: high
#   controls:
#     pci_dss: ["4.2.1"]
#     soc2: ["CC6.7"]
#   remediation: Add parameter { name = "rds.force_ssl", value = "1" } to the parameter group.
deny contains finding if {
	some r in data.terraform.lib.of_type("aws_db_parameter_group")
	startswith(object.get(r.values, "family", ""), "postgres")
	not forces_tls(r)
	finding := {
		"id": "ECOM-TF-RDS-007",
		"msg": sprintf("parameter group %s does not set rds.force_ssl = 1", [r.address]),
		"resource": r.address,
	}
}

# A read replica takes its authentication settings from its source.
replica(r) if {
	source := r.values.replicate_source_db
	is_string(source)
	source != ""
}

forces_tls(r) if {
	some p in data.terraform.lib.list(r.values.parameter)
	p.name == "rds.force_ssl"
	format_int(to_number(p.value), 10) == "1"
}
