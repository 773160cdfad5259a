output "state_bucket_name" {
  description = "Name of the Terraform state bucket."
  value       = module.state_bucket.bucket_name
}

output "state_bucket_arn" {
  description = "ARN of the Terraform state bucket."
  value       = module.state_bucket.bucket_arn
}

output "artifact_bucket_name" {
  description = "Name of the artifacts bucket (CI logs, SBOMs, backups)."
  value       = module.artifact_bucket.bucket_name
}

output "artifact_bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = module.artifact_bucket.bucket_arn
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key; backends use it as kms_key_id."
  value       = module.kms.key_arn
}

output "kms_key_alias" {
  description = "Alias of the customer-managed KMS key."
  value       = module.kms.alias_name
}

output "lock_table_name" {
  description = "Name of the DynamoDB lock table, or null when create_lock_table is false."
  value       = var.create_lock_table ? module.lock_table[0].table_name : null
}

output "audit_bucket_name" {
  description = "Central audit log bucket (CloudTrail and AWS Config of every account)."
  value       = module.audit_bucket.bucket_name
}

output "audit_kms_key_arn" {
  description = "KMS key of the audit log bucket; trails and Config snapshots are encrypted with it."
  value       = module.audit_kms.key_arn
}

output "cloudtrail_arn" {
  description = "ARN of the shared-services account's own multi-region trail, or null when enable_guardrails is false."
  value       = var.enable_guardrails ? module.guardrails[0].trail_arn : null
}

output "guardduty_detector_id" {
  description = "GuardDuty detector of the shared-services account, or null when enable_guardrails is false."
  value       = var.enable_guardrails ? module.guardrails[0].guardduty_detector_id : null
}
