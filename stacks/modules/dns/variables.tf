variable "domain_name" {
  description = "Public DNS domain, e.g. shop.example.com. The certificate covers it and *.domain_name."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name without a trailing dot."
  }
}

variable "create_hosted_zone" {
  description = "Create a public hosted zone (with DNSSEC signing and query logging). False reuses zone_id."
  type        = bool
  default     = true
}

variable "zone_id" {
  description = "Existing hosted zone of domain_name, used when create_hosted_zone is false."
  type        = string
  default     = null
}

variable "enable_dnssec" {
  description = "Sign the created zone with DNSSEC. Publish the DS record (output ds_record) at the parent zone or registrar to complete the chain of trust."
  type        = bool
  default     = true
}

variable "query_log_retention_days" {
  description = "Retention of the Route53 query log group, in days (a CloudWatch-allowed value)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.query_log_retention_days)
    error_message = "query_log_retention_days must be a CloudWatch-allowed retention value."
  }
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
