data "aws_caller_identity" "current" {}

# The principal running Terraform (the role behind an assumed-role session).
# It administers the key and buckets so the first apply cannot lock itself out.
data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  runner_arn        = data.aws_iam_session_context.current.issuer_arn
  access_log_bucket = "${var.project_name}-s3-access-logs-${data.aws_caller_identity.current.account_id}"

  # Artifacts tier down as they age: Standard-IA after 30 days, Glacier
  # Instant Retrieval after 90, then expire. Tiers that would not be reached
  # before expiry are left out.
  artifact_transitions = [
    for t in [
      { days = 30, storage_class = "STANDARD_IA" },
      { days = 90, storage_class = "GLACIER_IR" },
    ] : t if t.days < var.artifact_retention_days
  ]

  velero_grants = [for e in var.environments : {
    account_id    = e.account_id
    principal_arn = "arn:${data.aws_partition.current.partition}:iam::${e.account_id}:role/${var.project_name}-${e.name}-velero"
    prefix        = "velero/${e.name}"
  }]
}

module "kms" {
  source = "../modules/kms-key"

  alias_name      = var.kms_key_alias
  description     = "${var.project_name}: Terraform state, lock table and CI artifacts"
  admin_role_arns = [local.runner_arn]
  user_role_arns  = distinct(concat(var.trusted_role_arns, [local.runner_arn]))

  # Each environment's Velero role writes its backups (under velero/<env>/) with this key.
  account_statements = length(var.environments) == 0 ? [] : [{
    sid                    = "VeleroBackups"
    account_ids            = [for e in var.environments : e.account_id]
    principal_arn_patterns = [for e in local.velero_grants : e.principal_arn]
    actions                = ["kms:Decrypt", "kms:GenerateDataKey"]
  }]
}

module "access_logs" {
  source = "../modules/log-bucket"

  bucket_name                 = local.access_log_bucket
  allow_s3_server_access_logs = true
  retention_days              = 365
}

module "state_bucket" {
  source = "../modules/secure-bucket"

  bucket_name                        = var.state_bucket_name
  kms_key_arn                        = module.kms.key_arn
  access_log_bucket                  = module.access_logs.bucket_name
  trusted_role_arns                  = var.trusted_role_arns
  admin_role_arns                    = [local.runner_arn]
  object_lock_retention_days         = var.state_lock_retention_days
  noncurrent_version_expiration_days = max(90, var.state_lock_retention_days)
}

module "artifact_bucket" {
  source = "../modules/secure-bucket"

  bucket_name                        = var.artifact_bucket_name
  kms_key_arn                        = module.kms.key_arn
  access_log_bucket                  = module.access_logs.bucket_name
  trusted_role_arns                  = var.trusted_role_arns
  admin_role_arns                    = [local.runner_arn]
  transitions                        = local.artifact_transitions
  prefix_grants                      = local.velero_grants
  expiration_days                    = var.artifact_retention_days
  noncurrent_version_expiration_days = 30
}

module "lock_table" {
  source = "../modules/lock-table"
  count  = var.create_lock_table ? 1 : 0

  table_name  = var.lock_table_name
  kms_key_arn = module.kms.key_arn
}
