variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name."
  }
}

variable "allow_s3_server_access_logs" {
  description = "Let the S3 logging service (logging.s3.amazonaws.com) deliver server access logs of this account's buckets."
  type        = bool
  default     = true
}

variable "allow_elb_access_logs" {
  description = "Let Elastic Load Balancing deliver access logs of this account's load balancers under the elb/ prefix."
  type        = bool
  default     = false
}

variable "retention_days" {
  description = "Days log objects are kept before they expire."
  type        = number
  default     = 365

  validation {
    condition     = var.retention_days >= 90
    error_message = "retention_days must be at least 90 (PCI DSS 10.5.1 keeps three months immediately available)."
  }
}

variable "force_destroy" {
  description = "Allow Terraform to delete the bucket with log objects still in it."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the bucket (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
