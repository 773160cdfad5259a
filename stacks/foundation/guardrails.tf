# Account guardrails, once per environment account: CloudTrail and AWS Config to
# the shared-services audit bucket, conformance packs, GuardDuty, Security Hub,
# Access Analyzer, Macie, Detective, password policy, budget, EBS encryption.
module "baseline" {
  source = "../modules/baseline"

  name               = local.name
  region             = var.region
  audit_bucket_name  = var.audit_bucket_name
  audit_kms_key_arn  = var.audit_kms_key_arn
  logs_kms_key_arn   = module.logs_kms.key_arn
  log_retention_days = var.log_retention_days
  alert_emails       = var.alert_emails
  monthly_budget_usd = var.monthly_budget_usd
  enable_macie       = var.enable_macie
  enable_detective   = var.enable_detective
}

# Route 53 health checks of the storefront and API (brief: HA & DR). Their
# metrics exist only in us-east-1, so the alarms and their topic live there.
locals {
  in_us_east_1 = var.region == "us-east-1"
}

module "us_east_1_kms" {
  source = "../modules/kms-key"
  count  = local.in_us_east_1 ? 0 : 1
  providers = {
    aws = aws.us_east_1
  }

  alias_name      = "alias/${var.project_name}/${var.environment}/health-alarms"
  description     = "${local.name}: health-check alarm topic (us-east-1)"
  admin_role_arns = [local.runner_arn]

  service_statements = [{
    sid        = "CloudWatchAlarmsToEncryptedTopic"
    principals = ["cloudwatch.amazonaws.com"]
    actions    = ["kms:Decrypt", "kms:GenerateDataKey*"]
    conditions = [{
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }]
  }]
}

module "us_east_1_alarms" {
  source = "../modules/alarms"
  count  = local.in_us_east_1 ? 0 : 1
  providers = {
    aws = aws.us_east_1
  }

  name         = "${local.name}-health"
  alert_emails = var.alert_emails
  kms_key_arn  = module.us_east_1_kms[0].key_arn
}

module "health_checks" {
  source = "../modules/health-checks"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name            = local.name
  domain_name     = var.root_domain
  endpoints       = var.health_check_endpoints
  alarm_topic_arn = local.in_us_east_1 ? module.alarms.topic_arn : module.us_east_1_alarms[0].topic_arn
}
