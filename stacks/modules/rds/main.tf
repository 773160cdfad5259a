data "aws_partition" "current" {}

locals {
  major  = split(".", var.engine_version)[0]
  family = "postgres${local.major}"

  # Exported logs: the server log (connections, slow and DDL statements) and upgrade logs.
  log_exports = ["postgresql", "upgrade"]
}

resource "aws_db_subnet_group" "this" {
  name        = var.identifier
  description = "${var.identifier}: isolated data subnets"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

# No egress rules: Terraform removes the default allow-all, and PostgreSQL
# only answers connections.
resource "aws_security_group" "this" {
  name        = "${var.identifier}-postgres"
  description = "${var.identifier}: PostgreSQL from the cluster only"
  vpc_id      = var.vpc_id
  tags        = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = toset(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from ${each.value}"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.identifier}-"
  family      = local.family
  description = "${var.identifier}: TLS only, connection and slow-statement logging"
  tags        = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "ssl_min_protocol_version"
    value = "TLSv1.2"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  parameter {
    name  = "log_statement"
    value = "ddl"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  parameter {
    name  = "log_lock_waits"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Created before the instance so RDS writes into encrypted groups with a retention.
resource "aws_cloudwatch_log_group" "exports" {
  for_each = toset(local.log_exports)

  name              = "/aws/rds/instance/${var.identifier}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "monitoring_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.identifier}-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "this" {
  identifier     = var.identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage_gib
  max_allocated_storage = var.max_allocated_storage_gib
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_name                             = var.db_name
  username                            = var.username
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = var.kms_key_arn
  iam_database_authentication_enabled = true

  multi_az               = var.multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.this.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = !var.production
  final_snapshot_identifier = var.production ? "${var.identifier}-final" : null
  delete_automated_backups  = !var.production

  auto_minor_version_upgrade = true
  apply_immediately          = false

  enabled_cloudwatch_logs_exports       = local.log_exports
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = var.performance_insights_retention_days
  monitoring_interval                   = var.monitoring_interval
  monitoring_role_arn                   = aws_iam_role.monitoring.arn

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.exports, aws_iam_role_policy_attachment.monitoring]

  lifecycle {
    precondition {
      condition     = var.multi_az || !var.production
      error_message = "A production database must be Multi-AZ (multi_az = true)."
    }
    precondition {
      condition     = var.max_allocated_storage_gib >= var.allocated_storage_gib
      error_message = "max_allocated_storage_gib must be at least allocated_storage_gib."
    }
  }
}

# Disaster recovery: an encrypted read replica in another region, promoted by
# the runbook (docs/dr-runbook.md) when the primary region is lost.
resource "aws_db_parameter_group" "replica" {
  count    = var.cross_region_replica ? 1 : 0
  provider = aws.dr

  name_prefix = "${var.identifier}-replica-"
  family      = local.family
  description = "${var.identifier} replica: TLS only, connection logging"
  tags        = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_connections"
    value = "1"
  }

  parameter {
    name  = "log_disconnections"
    value = "1"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "replica" {
  #checkov:skip=CKV_AWS_157:The cross-region replica is a single-AZ warm standby for regional disaster recovery; the runbook converts it to Multi-AZ when it is promoted (the primary is Multi-AZ in prod, enforced by a precondition).
  count    = var.cross_region_replica ? 1 : 0
  provider = aws.dr

  identifier          = "${var.identifier}-replica"
  replicate_source_db = aws_db_instance.this.arn
  instance_class      = var.instance_class

  storage_type          = "gp3"
  max_allocated_storage = var.max_allocated_storage_gib
  storage_encrypted     = true
  kms_key_id            = var.replica_kms_key_arn

  iam_database_authentication_enabled = true
  db_subnet_group_name                = var.replica_subnet_group_name
  publicly_accessible                 = false
  parameter_group_name                = aws_db_parameter_group.replica[0].name
  multi_az                            = false
  ca_cert_identifier                  = "rds-ca-rsa2048-g1"

  backup_retention_period = var.backup_retention_days
  copy_tags_to_snapshot   = true
  deletion_protection     = var.deletion_protection
  skip_final_snapshot     = true

  auto_minor_version_upgrade            = true
  enabled_cloudwatch_logs_exports       = local.log_exports
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.replica_kms_key_arn
  performance_insights_retention_period = var.performance_insights_retention_days
  monitoring_interval                   = var.monitoring_interval
  monitoring_role_arn                   = aws_iam_role.monitoring.arn

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.replica_kms_key_arn != null
      error_message = "cross_region_replica needs replica_kms_key_arn (a KMS key in the DR region)."
    }
  }
}
