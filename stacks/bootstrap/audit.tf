# Centralized audit logs: every account's CloudTrail and AWS Config deliver to
# one KMS-encrypted, Object-Locked bucket here in the shared-services account.
# The per-account guardrails that write to it are in modules/baseline, called by
# the foundation stage for each environment's account and by guardrails.tf for
# this account.

locals {
  account_id         = data.aws_caller_identity.current.account_id
  audit_bucket       = coalesce(var.audit_bucket_name, "${var.project_name}-audit-logs-${local.account_id}")
  member_account_ids = distinct(concat([local.account_id], [for e in var.environments : e.account_id]))

  config_recorder_roles = concat(
    var.enable_guardrails ? [{
      account_id = local.account_id
      pattern    = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:role/${local.guardrails_name}-config-recorder"
    }] : [],
    [for e in var.environments : {
      account_id = e.account_id
      pattern    = "arn:${data.aws_partition.current.partition}:iam::${e.account_id}:role/*-config-recorder"
    }],
  )
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

  # AWS Config delivers with each account's recorder role (modules/baseline), this account's
  # own when enable_guardrails is on (guardrails.tf).
  account_statements = length(local.config_recorder_roles) == 0 ? [] : [{
    sid                    = "ConfigRecorderRoles"
    account_ids            = distinct([for r in local.config_recorder_roles : r.account_id])
    principal_arn_patterns = [for r in local.config_recorder_roles : r.pattern]
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
