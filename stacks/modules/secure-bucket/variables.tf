variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key used for default SSE-KMS encryption (with an S3 bucket key)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (not an alias)."
  }
}

variable "access_log_bucket" {
  description = "Name of the bucket that receives this bucket's S3 server access logs."
  type        = string
}

variable "access_log_prefix" {
  description = "Key prefix for this bucket's access logs in access_log_bucket. Defaults to <bucket_name>/."
  type        = string
  default     = null
}

variable "trusted_role_arns" {
  description = "IAM roles (same or other accounts) granted read/write on the bucket. Every principal not listed here or in admin_role_arns is denied."
  type        = list(string)

  validation {
    condition     = length(var.trusted_role_arns) > 0 && alltrue([for a in var.trusted_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "trusted_role_arns must contain at least one IAM role ARN."
  }
}

variable "admin_role_arns" {
  description = "IAM roles that manage the bucket's configuration (e.g. the Terraform runner). They are exempt from the deny-all-others statement."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "admin_role_arns must contain only IAM role or user ARNs."
  }
}

variable "object_lock_retention_days" {
  description = "Default Object Lock retention for every new object version, in days. Null leaves Object Lock off. Object Lock can only be turned on when the bucket is created."
  type        = number
  default     = null

  validation {
    condition     = var.object_lock_retention_days == null ? true : var.object_lock_retention_days >= 1
    error_message = "object_lock_retention_days must be at least 1, or null."
  }
}

variable "object_lock_mode" {
  description = "Object Lock retention mode: GOVERNANCE (users with s3:BypassGovernanceRetention can override) or COMPLIANCE (nobody can, not even root)."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock_mode)
    error_message = "object_lock_mode must be GOVERNANCE or COMPLIANCE."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted (never before their Object Lock retention ends)."
  type        = number
  default     = 365

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "transitions" {
  description = "Storage-class transitions of current object versions, e.g. [{ days = 30, storage_class = \"STANDARD_IA\" }]."
  type = list(object({
    days          = number
    storage_class = string
  }))
  default = []

  validation {
    condition     = alltrue([for t in var.transitions : contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], t.storage_class)])
    error_message = "transitions[*].storage_class must be a valid S3 storage class."
  }
}

variable "expiration_days" {
  description = "Days after which current object versions expire (become noncurrent). Null keeps them forever."
  type        = number
  default     = null

  validation {
    condition     = var.expiration_days == null ? true : var.expiration_days >= 1
    error_message = "expiration_days must be at least 1, or null."
  }
}

variable "force_destroy" {
  description = "Allow Terraform to delete the bucket with objects still in it. Leave false for anything that matters."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the bucket (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "prefix_grants" {
  description = "Roles (possibly in other accounts, possibly not created yet) given list/read/write under one key prefix only, e.g. each environment's Velero role under velero/<env>/. Matched with aws:PrincipalArn."
  type = list(object({
    account_id    = string
    principal_arn = string
    prefix        = string
  }))
  default = []

  validation {
    condition     = alltrue([for g in var.prefix_grants : can(regex("^[0-9]{12}$", g.account_id)) && can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", g.principal_arn)) && !startswith(g.prefix, "/") && !endswith(g.prefix, "/")])
    error_message = "prefix_grants need a 12-digit account_id, a role principal_arn and a prefix without leading or trailing slash."
  }
}
