package terraform.rds_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

good_values := {
	"engine": "postgres",
	"storage_encrypted": true,
	"publicly_accessible": false,
	"multi_az": true,
	"deletion_protection": true,
	"backup_retention_period": 14,
	"iam_database_authentication_enabled": true,
}

db(overrides) := rc("aws_db_instance", "main", object.union(good_values, overrides))

denials(overrides) := d if {
	d := data.terraform.rds.deny with input as plan([db(overrides)])
		with data.ecomctl.environment as "prod"
}

test_compliant_instance_passes if {
	count(denials({})) == 0
}

test_rds_001_unencrypted_denied if has_id(denials({"storage_encrypted": false}), "ECOM-TF-RDS-001")

test_rds_001_unset_denied if has_id(denials({"storage_encrypted": null}), "ECOM-TF-RDS-001")

test_rds_002_public_denied if has_id(denials({"publicly_accessible": true}), "ECOM-TF-RDS-002")

test_rds_002_private_passes if not has_id(denials({}), "ECOM-TF-RDS-002")

test_rds_003_single_az_prod_denied if has_id(denials({"multi_az": false}), "ECOM-TF-RDS-003")

test_rds_003_single_az_nonprod_passes if {
	findings := data.terraform.rds.deny with input as plan([db({"multi_az": false, "deletion_protection": false})])
		with data.ecomctl.environment as "nonprod"
	count(findings) == 0
}

test_rds_003_env_from_tag if {
	findings := data.terraform.rds.deny with input as plan([db({"multi_az": false, "tags_all": {"environment": "prod"}})])
	has_id(findings, "ECOM-TF-RDS-003")
}

test_rds_004_no_deletion_protection_prod_denied if has_id(denials({"deletion_protection": false}), "ECOM-TF-RDS-004")

test_rds_004_cluster_checked if {
	c := rc("aws_rds_cluster", "aurora", {"engine": "aurora-postgresql", "storage_encrypted": true, "deletion_protection": false, "backup_retention_period": 7})
	findings := data.terraform.rds.deny with input as plan([c]) with data.ecomctl.environment as "prod"
	has_id(findings, "ECOM-TF-RDS-004")
}

test_rds_005_short_retention_denied if has_id(denials({"backup_retention_period": 1}), "ECOM-TF-RDS-005")

test_rds_005_floor_from_data if {
	findings := data.terraform.rds.deny with input as plan([db({"backup_retention_period": 14})])
		with data.ecomctl as {"environment": "prod", "min_backup_retention_days": 30}
	has_id(findings, "ECOM-TF-RDS-005")
}

test_rds_aurora_member_skipped if {
	m := rc("aws_db_instance", "member", {"engine": "aurora-postgresql", "publicly_accessible": false})
	findings := data.terraform.rds.deny with input as plan([m]) with data.ecomctl.environment as "prod"
	count(findings) == 0
}

test_rds_006_no_iam_auth_denied if has_id(denials({"iam_database_authentication_enabled": false}), "ECOM-TF-RDS-006")

test_rds_006_iam_auth_passes if not has_id(denials({"iam_database_authentication_enabled": true}), "ECOM-TF-RDS-006")

test_rds_006_replica_inherits if not has_id(denials({"iam_database_authentication_enabled": false, "replicate_source_db": "arn:aws:rds:us-east-1:333333333333:db:shop-prod-db"}), "ECOM-TF-RDS-006")

pg(params) := rc("aws_db_parameter_group", "pg", {"family": "postgres16", "parameter": params})

test_rds_007_no_force_ssl_denied if {
	findings := data.terraform.rds.deny with input as plan([pg([{"name": "log_connections", "value": "1"}])])
	has_id(findings, "ECOM-TF-RDS-007")
}

test_rds_007_force_ssl_off_denied if {
	findings := data.terraform.rds.deny with input as plan([pg([{"name": "rds.force_ssl", "value": "0"}])])
	has_id(findings, "ECOM-TF-RDS-007")
}

test_rds_007_force_ssl_passes if {
	findings := data.terraform.rds.deny with input as plan([pg([{"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"}])])
	count(findings) == 0
}

test_rds_007_mysql_family_ignored if {
	r := rc("aws_db_parameter_group", "my", {"family": "mysql8.0", "parameter": []})
	findings := data.terraform.rds.deny with input as plan([r])
	count(findings) == 0
}
