variable "alias_name" {
  description = "Alias of the key, including the alias/ prefix."
  type        = string

  validation {
    condition     = can(regex("^alias/[a-zA-Z0-9/_-]+$", var.alias_name)) && !startswith(var.alias_name, "alias/aws/")
    error_message = "alias_name must start with \"alias/\" and must not be in the reserved alias/aws/ namespace."
  }
}

variable "description" {
  description = "What the key protects; shown in the KMS console."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion completes."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "admin_role_arns" {
  description = "IAM roles allowed to administer the key (not to use it). The account root is always allowed to administer, so the key cannot be orphaned."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "admin_role_arns must contain only IAM role or user ARNs."
  }
}

variable "user_role_arns" {
  description = "IAM roles allowed to encrypt, decrypt and generate data keys with the key, and to create grants for AWS services."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.user_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "user_role_arns must contain only IAM role or user ARNs."
  }
}

variable "service_statements" {
  description = "Extra key policy statements for AWS service principals (e.g. CloudWatch Logs), each with its own conditions."
  type = list(object({
    sid        = string
    principals = list(string)
    actions    = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []
}

variable "tags" {
  description = "Tags for the key (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "account_statements" {
  description = "Key use by roles of other accounts that may not exist yet: each statement trusts the accounts and matches the role ARNs (wildcards allowed) with aws:PrincipalArn."
  type = list(object({
    sid                    = string
    account_ids            = list(string)
    principal_arn_patterns = list(string)
    actions                = list(string)
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.account_statements : alltrue([for a in s.account_ids : can(regex("^[0-9]{12}$", a))])])
    error_message = "account_statements[*].account_ids must be 12-digit account IDs."
  }
}
