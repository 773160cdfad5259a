variable "name" {
  description = "Name prefix, e.g. shop-prod."
  type        = string
}

variable "region" {
  description = "AWS region of the account's home region (Security Hub standards ARNs, Config global resources)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}

variable "audit_bucket_name" {
  description = "Central audit log bucket in the shared-services account (bootstrap output audit_bucket_name). CloudTrail and AWS Config deliver to it."
  type        = string
}

variable "audit_kms_key_arn" {
  description = "KMS key of the audit bucket (bootstrap output audit_kms_key_arn); trail and Config snapshots are encrypted with it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.audit_kms_key_arn))
    error_message = "audit_kms_key_arn must be a KMS key ARN."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key of this account's log groups; the trail's CloudWatch log group uses it."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the trail's CloudWatch log group (the bucket keeps the long-term copy)."
  type        = number
  default     = 365
}

variable "alert_emails" {
  description = "Budget alert recipients (at most 10)."
  type        = list(string)

  validation {
    condition     = length(var.alert_emails) <= 10
    error_message = "AWS Budgets accepts at most 10 email subscribers per notification."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of the account in USD; alerts at 80 % actual and 100 % forecast."
  type        = number
  default     = 1000

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "enable_macie" {
  description = "Enable Amazon Macie (sensitive data discovery in S3) in the account."
  type        = bool
  default     = true
}

variable "enable_detective" {
  description = "Enable Amazon Detective (investigation graph over GuardDuty, CloudTrail and VPC flow logs)."
  type        = bool
  default     = true
}

variable "pci_dss_standard_version" {
  description = "Version of the Security Hub PCI DSS standard to subscribe to."
  type        = string
  default     = "4.0.1"

  validation {
    condition     = contains(["3.2.1", "4.0.1"], var.pci_dss_standard_version)
    error_message = "pci_dss_standard_version must be 3.2.1 or 4.0.1."
  }
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
