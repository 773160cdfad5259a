# The shared-services account's own guardrails: the same modules/baseline every environment
# account gets from its foundation stage (CloudTrail and AWS Config to the audit bucket in
# audit.tf, conformance packs, GuardDuty, Security Hub, Access Analyzer, Macie, Detective,
# password policy, budget, EBS default encryption). This account holds the Terraform state, the
# artifacts and every account's audit logs, so it is the last one to leave unwatched.
# enable_guardrails switches it off only where those APIs cannot be reached (the moto-backed
# tests) or where the account already gets them from elsewhere (an Organization baseline).

locals {
  guardrails_name = "${var.project_name}-shared"
}

# Key of the trail's CloudWatch log group (the audit keys are for the bucket copy).
module "guardrails_logs_kms" {
  source = "../modules/kms-key"
  count  = var.enable_guardrails ? 1 : 0

  alias_name      = "alias/${var.project_name}/shared/logs"
  description     = "${local.guardrails_name}: CloudWatch log groups of the shared-services account"
  admin_role_arns = [local.runner_arn]

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.${var.region}.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    conditions = [{
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }]
  }]
}

module "guardrails" {
  source = "../modules/baseline"
  count  = var.enable_guardrails ? 1 : 0

  name               = local.guardrails_name
  region             = var.region
  audit_bucket_name  = module.audit_bucket.bucket_name # known once the bucket policy lets the trail in
  audit_kms_key_arn  = module.audit_kms.key_arn
  logs_kms_key_arn   = module.guardrails_logs_kms[0].key_arn
  alert_emails       = var.alert_emails
  monthly_budget_usd = var.monthly_budget_usd
  enable_macie       = var.enable_macie
  enable_detective   = var.enable_detective
}
