variable "project_name" {
  description = "Short project name used as a prefix for every resource name (lowercase letters, digits and hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  description = "AWS region that hosts the remote state and artifacts buckets."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}

variable "owner" {
  description = "Team or person accountable for these resources; written to the Owner tag."
  type        = string

  validation {
    condition     = length(trimspace(var.owner)) > 0
    error_message = "owner must not be empty."
  }
}

variable "assume_role_arn" {
  description = "IAM role Terraform assumes in the shared-services account. Null uses the caller's credentials as they are."
  type        = string
  default     = null

  validation {
    condition     = var.assume_role_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.assume_role_arn))
    error_message = "assume_role_arn must be an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>) or null."
  }
}

variable "tags" {
  description = "Extra tags added to every resource. Project, Environment, Owner, DataClassification, ManagedBy and Stage are always set by the stack."
  type        = map(string)
  default     = {}
}

variable "state_bucket_name" {
  description = "Globally unique name of the S3 bucket that holds Terraform state."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name)) && !can(regex("\\.\\.", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "artifact_bucket_name" {
  description = "Globally unique name of the S3 bucket for CI logs, SBOMs and backups."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifact_bucket_name)) && !can(regex("\\.\\.", var.artifact_bucket_name))
    error_message = "artifact_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "state_lock_retention_days" {
  description = "Days each state object version stays immutable under the state bucket's S3 Object Lock default retention."
  type        = number

  validation {
    condition     = var.state_lock_retention_days >= 1 && floor(var.state_lock_retention_days) == var.state_lock_retention_days
    error_message = "state_lock_retention_days must be a whole number of at least 1."
  }
}

variable "kms_key_alias" {
  description = "Alias of the customer-managed KMS key that encrypts state and artifacts, e.g. alias/<project>/tf-state."
  type        = string

  validation {
    condition     = can(regex("^alias/[a-zA-Z0-9/_-]+$", var.kms_key_alias)) && !startswith(var.kms_key_alias, "alias/aws/")
    error_message = "kms_key_alias must start with \"alias/\", use only letters, digits, '/', '_' and '-', and must not be in the reserved alias/aws/ namespace."
  }
}

variable "trusted_role_arns" {
  description = "IAM role ARNs (Terraform runners, CI roles) allowed to read and write the state bucket and use the KMS key."
  type        = list(string)

  validation {
    condition     = length(var.trusted_role_arns) > 0 && alltrue([for arn in var.trusted_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "trusted_role_arns must contain at least one IAM role ARN of the form arn:aws:iam::<12 digits>:role/<name>."
  }
}

variable "create_lock_table" {
  description = "Create a DynamoDB table for state locking. Only needed for Terraform versions older than 1.10, which cannot lock with an S3 lock file."
  type        = bool
}

variable "lock_table_name" {
  description = "Name of the DynamoDB state lock table (used when create_lock_table is true)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.lock_table_name))
    error_message = "lock_table_name must be 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "artifact_retention_days" {
  description = "Days after which current artifact objects expire (they move to colder storage classes before that)."
  type        = number
  default     = 365

  validation {
    condition     = var.artifact_retention_days >= 1 && floor(var.artifact_retention_days) == var.artifact_retention_days
    error_message = "artifact_retention_days must be a whole number of at least 1."
  }
}

variable "environments" {
  description = "Environments and their accounts. Their CloudTrail and AWS Config deliver to the audit bucket, and each one's Velero role (<project_name>-<name>-velero) may use velero/<name>/ in the artifacts bucket."
  type = list(object({
    name       = string
    account_id = string
  }))
  default = []

  validation {
    condition     = alltrue([for e in var.environments : can(regex("^[a-z][a-z0-9]{1,15}$", e.name)) && can(regex("^[0-9]{12}$", e.account_id))])
    error_message = "environments must list { name, account_id } with a lowercase name and a 12-digit account ID."
  }
}

variable "audit_bucket_name" {
  description = "Name of the central audit log bucket (CloudTrail, AWS Config of every account). Null uses <project_name>-audit-logs-<account id>."
  type        = string
  default     = null

  validation {
    condition     = var.audit_bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.audit_bucket_name))
    error_message = "audit_bucket_name must be a valid S3 bucket name, or null."
  }
}

variable "audit_log_retention_days" {
  description = "Days audit logs are kept in the audit bucket (at least 365, PCI DSS 10.5.1)."
  type        = number
  default     = 400

  validation {
    condition     = var.audit_log_retention_days >= 365
    error_message = "audit_log_retention_days must be at least 365."
  }
}

variable "audit_object_lock_days" {
  description = "Object Lock (COMPLIANCE) retention of audit log objects in days; they cannot be deleted or overwritten before then, not even by root."
  type        = number
  default     = 365

  validation {
    condition     = var.audit_object_lock_days >= 1
    error_message = "audit_object_lock_days must be at least 1."
  }
}

variable "enable_guardrails" {
  description = "Apply the account guardrails baseline (modules/baseline: CloudTrail and AWS Config to the audit bucket, conformance packs, GuardDuty, Security Hub, Access Analyzer, Macie, Detective, password policy, budget, EBS default encryption) to the shared-services account itself. Turn it off only where those services cannot be reached (tests against moto) or the account gets them elsewhere."
  type        = bool
  default     = true
}

variable "alert_emails" {
  description = "Recipients of the shared-services account's budget alerts (1 to 10 addresses)."
  type        = list(string)

  validation {
    condition     = length(var.alert_emails) >= 1 && length(var.alert_emails) <= 10 && alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must list 1 to 10 email addresses (AWS Budgets accepts at most 10 per notification)."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the shared-services account in USD; alert_emails hear at 80 % actual and 100 % forecast spend (with enable_guardrails)."
  type        = number
  default     = 1000

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "enable_macie" {
  description = "Enable Amazon Macie in the shared-services account (with enable_guardrails): sensitive data discovery over the state, artifacts and audit buckets."
  type        = bool
  default     = true
}

variable "enable_detective" {
  description = "Enable Amazon Detective in the shared-services account (with enable_guardrails)."
  type        = bool
  default     = true
}
