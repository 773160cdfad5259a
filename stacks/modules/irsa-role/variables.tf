variable "name" {
  description = "Name of the IAM role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "name must be a valid IAM role name (at most 64 characters)."
  }
}

variable "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be an IAM OIDC provider ARN."
  }
}

variable "oidc_issuer_url" {
  description = "OIDC issuer URL of the cluster (https://oidc.eks.<region>.amazonaws.com/id/...)."
  type        = string

  validation {
    condition     = startswith(var.oidc_issuer_url, "https://")
    error_message = "oidc_issuer_url must start with https://."
  }
}

variable "service_accounts" {
  description = "Kubernetes service accounts (\"namespace:name\") allowed to assume the role. Exact matches only."
  type        = list(string)

  validation {
    condition     = length(var.service_accounts) > 0 && alltrue([for s in var.service_accounts : can(regex("^[a-z0-9-]+:[a-z0-9.-]+$", s))])
    error_message = "service_accounts must list at least one \"namespace:name\" without wildcards."
  }
}

variable "policy_json" {
  description = "Inline policy document (JSON) of what the workload may do."
  type        = string
}

variable "managed_policy_arns" {
  description = "AWS managed policies to attach as well (use sparingly: prefer policy_json scoped to the resources)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the role (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
