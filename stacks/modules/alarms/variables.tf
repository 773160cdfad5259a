variable "name" {
  description = "Name prefix, e.g. shop-prod."
  type        = string
}

variable "alert_emails" {
  description = "Email addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must contain only email addresses."
  }
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the topic. Its policy must let cloudwatch.amazonaws.com use it."
  type        = string
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
