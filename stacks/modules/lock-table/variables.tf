variable "table_name" {
  description = "Name of the DynamoDB table Terraform uses for state locks."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3-255 characters of letters, digits, '_', '-' and '.'."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the table."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "deletion_protection" {
  description = "Protect the table from deletion."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for the table (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
