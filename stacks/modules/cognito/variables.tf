variable "name" {
  description = "Name of the user pool, e.g. shop-prod."
  type        = string
}

variable "domain_prefix" {
  description = "Prefix of the hosted UI domain (<prefix>.auth.<region>.amazoncognito.com)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.domain_prefix)) && !can(regex("aws|amazon|cognito", var.domain_prefix))
    error_message = "domain_prefix must be 1-63 lowercase letters, digits and hyphens and must not contain aws, amazon or cognito."
  }
}

variable "app_domain" {
  description = "Public domain of the shop; callback and sign-out URLs are derived from it (https://<app_domain>/auth/callback, https://<app_domain>/)."
  type        = string
}

variable "callback_path" {
  description = "Path of the OAuth callback on app_domain."
  type        = string
  default     = "/auth/callback"

  validation {
    condition     = startswith(var.callback_path, "/")
    error_message = "callback_path must start with /."
  }
}

variable "mfa_required" {
  description = "Require TOTP MFA for every user (prod). False makes it optional (users may enrol)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the user pool from deletion."
  type        = bool
  default     = true
}

variable "password_minimum_length" {
  description = "Minimum password length."
  type        = number
  default     = 14

  validation {
    condition     = var.password_minimum_length >= 12 && var.password_minimum_length <= 99
    error_message = "password_minimum_length must be between 12 and 99."
  }
}

variable "smoke_test_user_email" {
  description = "Email of a smoke-test user to create. Null creates none."
  type        = string
  default     = null
}

variable "smoke_test_user_temp_password" {
  description = "Temporary password of the smoke-test user (the user must change it on first sign-in). Null creates no user."
  type        = string
  default     = null
  sensitive   = true
}

variable "tags" {
  description = "Tags for the user pool (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "region" {
  description = "AWS region the module's provider targets; used in ARNs, endpoint service names and domain names (passed in rather than read from data.aws_region, whose attribute names differ between provider 5.x and 6.x)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}
