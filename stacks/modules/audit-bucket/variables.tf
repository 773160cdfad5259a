variable "bucket_name" {
  description = "Globally unique name of the central audit log bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "kms_key_arn" {
  description = "KMS key (same account) encrypting every object; its policy must let CloudTrail and AWS Config of the member accounts use it."
  type        = string
}

variable "member_account_ids" {
  description = "Accounts whose CloudTrail and AWS Config may deliver here (each under AWSLogs/<account>/)."
  type        = list(string)

  validation {
    condition     = length(var.member_account_ids) > 0 && alltrue([for a in var.member_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "member_account_ids must list at least one 12-digit account ID."
  }
}

variable "access_log_bucket" {
  description = "Bucket receiving this bucket's S3 server access logs."
  type        = string
}

variable "retention_days" {
  description = "Days audit logs are kept (PCI DSS 10.5.1: at least a year, three months immediately available)."
  type        = number
  default     = 400

  validation {
    condition     = var.retention_days >= 365
    error_message = "retention_days must be at least 365."
  }
}

variable "object_lock_retention_days" {
  description = "Object Lock (COMPLIANCE) retention of every log object in days: nobody, root included, can delete or overwrite it before then. Null leaves Object Lock off."
  type        = number
  default     = 365

  validation {
    condition     = var.object_lock_retention_days == null ? true : var.object_lock_retention_days >= 1
    error_message = "object_lock_retention_days must be at least 1, or null."
  }
}

variable "tags" {
  description = "Tags for the bucket (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
