data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  prod       = var.environment == "prod"
  runner_arn = data.aws_iam_session_context.current.issuer_arn
  partition  = data.aws_partition.current.partition
}

# Data at rest: RDS storage, Performance Insights, the master user secret, ECR.
module "data_kms" {
  source = "../modules/kms-key"

  alias_name      = "alias/${var.project_name}/${var.environment}/data"
  description     = "${local.name}: RDS, its secret and Performance Insights, ECR"
  admin_role_arns = [local.runner_arn]
  user_role_arns  = [local.runner_arn]
}

# Log groups, the AMP workspace and the alert topic.
module "logs_kms" {
  source = "../modules/kms-key"

  alias_name      = "alias/${var.project_name}/${var.environment}/app-logs"
  description     = "${local.name}: app log groups, AMP workspace, alert topic"
  admin_role_arns = [local.runner_arn]
  user_role_arns  = [local.runner_arn]

  service_statements = [
    {
      sid        = "CloudWatchLogs"
      principals = ["logs.${var.region}.amazonaws.com"]
      actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      conditions = [{
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${local.partition}:logs:${var.region}:${var.account_id}:log-group:*"]
      }]
    },
    {
      sid        = "CloudWatchAlarmsToEncryptedTopic"
      principals = ["cloudwatch.amazonaws.com"]
      actions    = ["kms:Decrypt", "kms:GenerateDataKey*"]
      conditions = [{
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [var.account_id]
      }]
    },
  ]
}

# The cross-region replica's key lives in the DR region.
module "dr_kms" {
  source = "../modules/kms-key"
  count  = var.db_cross_region_replica ? 1 : 0
  providers = {
    aws = aws.dr
  }

  alias_name      = "alias/${var.project_name}/${var.environment}/data-dr"
  description     = "${local.name}: cross-region RDS replica (DR)"
  admin_role_arns = [local.runner_arn]
  user_role_arns  = [local.runner_arn]
}

module "alerts" {
  source = "../modules/alarms"

  name         = "${local.name}-app"
  alert_emails = var.alert_emails
  kms_key_arn  = module.logs_kms.key_arn
}

module "rds" {
  source = "../modules/rds"
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  identifier                          = "${local.name}-db"
  vpc_id                              = var.vpc_id
  subnet_ids                          = var.data_subnet_ids
  allowed_security_group_ids          = [var.node_security_group_id]
  engine_version                      = var.db_engine_version
  instance_class                      = var.db_instance_class
  allocated_storage_gib               = var.db_allocated_storage_gib
  max_allocated_storage_gib           = var.db_max_allocated_storage_gib
  multi_az                            = var.db_multi_az
  production                          = local.prod
  backup_retention_days               = var.db_backup_retention_days
  deletion_protection                 = var.db_deletion_protection
  db_name                             = var.db_name
  username                            = var.db_username
  kms_key_arn                         = module.data_kms.key_arn
  log_retention_days                  = var.log_retention_days
  logs_kms_key_arn                    = module.logs_kms.key_arn
  monitoring_interval                 = var.db_monitoring_interval
  performance_insights_retention_days = var.db_performance_insights_retention_days
  cross_region_replica                = var.db_cross_region_replica
  replica_kms_key_arn                 = var.db_cross_region_replica ? module.dr_kms[0].key_arn : null
  replica_subnet_group_name           = var.dr_db_subnet_group_name
}

module "ecr" {
  source = "../modules/ecr"

  prefix         = var.project_name
  services       = var.ecr_repositories
  mirrors        = var.ecr_mirror_repositories
  kms_key_arn    = module.data_kms.key_arn
  pull_role_arns = var.ecr_pull_role_arns
}

module "observability" {
  source = "../modules/observability"

  name                      = local.name
  region                    = var.region
  cluster_name              = var.cluster_name
  oidc_provider_arn         = var.oidc_provider_arn
  oidc_issuer_url           = var.cluster_oidc_issuer_url
  enable_amp                = var.enable_amp
  enable_grafana            = var.enable_grafana
  enable_container_insights = var.enable_container_insights
  log_retention_days        = var.log_retention_days
  logs_kms_key_arn          = module.logs_kms.key_arn
  alarm_topic_arn           = module.alerts.topic_arn
  db_instance_identifier    = module.rds.instance_identifier
  db_allocated_storage_gib  = var.db_allocated_storage_gib
  db_has_replica            = var.db_cross_region_replica
  alb_arn                   = var.alb_arn
  waf_web_acl_arn           = var.waf_web_acl_arn
}

module "backup" {
  source = "../modules/backup"

  name               = local.name
  oidc_provider_arn  = var.oidc_provider_arn
  oidc_issuer_url    = var.cluster_oidc_issuer_url
  bucket_arn         = var.artifact_bucket_arn
  prefix             = "velero/${var.environment}"
  bucket_kms_key_arn = var.artifact_kms_key_arn
}
