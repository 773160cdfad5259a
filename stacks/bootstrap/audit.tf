# Centralized audit logs: every account's CloudTrail and AWS Config deliver to
# one KMS-encrypted, Object-Locked bucket here in the shared-services account.
# The per-account guardrails that write to it are in modules/baseline, called by
# the foundation stage for each environment's account.

locals {
  account_id         = data.aws_caller_identity.current.account_id
  audit_bucket       = coalesce(var.audit_bucket_name, "${var.project_name}-audit-logs-${local.account_id}")
  member_account_ids = distinct(concat([local.account_id], [for e in var.environments : e.account_id]))
}

data "aws_partition" "current" {}

module "audit_kms" {
  source = "../modules/kms-key"

  alias_name      = "${var.kms_key_alias}-audit"
  description     = "${var.project_name}: CloudTrail and AWS Config logs of every account"
  admin_role_arns = [local.runner_arn]
  user_role_arns  = distinct(concat(var.trusted_role_arns, [local.runner_arn]))

  service_statements = [
    {
      sid        = "CloudTrailEncryptLogs"
      principals = ["cloudtrail.amazonaws.com"]
      actions    = ["kms:GenerateDataKey*", "kms:DescribeKey"]
      conditions = [{
        test     = "StringLike"
        variable = "kms:EncryptionContext:aws:cloudtrail:arn"
        values   = [for a in local.member_account_ids : "arn:${data.aws_partition.current.partition}:cloudtrail:*:${a}:trail/*"]
      }]
    },
    {
      sid        = "ConfigEncryptSnapshots"
      principals = ["config.amazonaws.com"]
      actions    = ["kms:Decrypt", "kms:GenerateDataKey"]
      conditions = [{
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = local.member_account_ids
      }]
    },
  ]

  account_statements = length(var.environments) == 0 ? [] : [{
    sid                    = "ConfigRecorderRoles"
    account_ids            = [for e in var.environments : e.account_id]
    principal_arn_patterns = [for e in var.environments : "arn:${data.aws_partition.current.partition}:iam::${e.account_id}:role/*-config-recorder"]
    actions                = ["kms:Decrypt", "kms:GenerateDataKey"]
  }]
}

module "audit_bucket" {
  source = "../modules/audit-bucket"

  bucket_name                = local.audit_bucket
  kms_key_arn                = module.audit_kms.key_arn
  member_account_ids         = local.member_account_ids
  access_log_bucket          = module.access_logs.bucket_name
  retention_days             = var.audit_log_retention_days
  object_lock_retention_days = var.audit_object_lock_days
}
