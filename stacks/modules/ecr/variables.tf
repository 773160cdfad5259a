variable "prefix" {
  description = "Namespace of the service repositories: each is <prefix>/<service>."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", var.prefix))
    error_message = "prefix must be lowercase letters, digits and . _ - separators."
  }
}

variable "services" {
  description = "Services that get a repository <prefix>/<service>."
  type        = list(string)

  validation {
    condition     = length(var.services) == length(distinct(var.services)) && alltrue([for s in var.services : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", s))])
    error_message = "services must be distinct lowercase names."
  }
}

variable "mirrors" {
  description = "Repositories for mirrored base and add-on images, created as mirrors/<name> (e.g. calico/node)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.mirrors) == length(distinct(var.mirrors)) && alltrue([for m in var.mirrors : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", m))])
    error_message = "mirrors must be distinct repository paths (lowercase, '/' separated)."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key encrypting every repository."
  type        = string
}

variable "pull_role_arns" {
  description = "IAM roles (usually another account's deploy role) allowed to pull by digest, for promotion. They need not exist yet: the policy trusts their account and matches the role ARN."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.pull_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "pull_role_arns must contain only IAM role ARNs."
  }
}

variable "keep_images" {
  description = "Tagged images kept per repository (older ones expire)."
  type        = number
  default     = 100

  validation {
    condition     = var.keep_images >= 10
    error_message = "keep_images must be at least 10 (rollbacks need history)."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1
    error_message = "untagged_expiry_days must be at least 1."
  }
}

variable "tags" {
  description = "Tags for every repository (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
