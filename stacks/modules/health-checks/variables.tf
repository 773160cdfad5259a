variable "name" {
  description = "Name prefix, e.g. shop-prod."
  type        = string
}

variable "domain_name" {
  description = "Public host name the checks call over HTTPS (the storefront and API share it)."
  type        = string
}

variable "endpoints" {
  description = "Checked endpoints: name => path on domain_name. Defaults: the storefront's liveness and login's JWKS (the API every service depends on)."
  type        = map(string)
  default = {
    storefront = "/healthz"
    api        = "/.well-known/jwks.json"
  }

  validation {
    condition     = length(var.endpoints) > 0 && alltrue([for p in values(var.endpoints) : startswith(p, "/")])
    error_message = "endpoints must map names to absolute paths."
  }
}

variable "failure_threshold" {
  description = "Consecutive failed checks before an endpoint is unhealthy."
  type        = number
  default     = 3
}

variable "alarm_topic_arn" {
  description = "SNS topic in us-east-1 (Route 53 health-check metrics exist only there) the alarms notify."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:us-east-1:[0-9]{12}:.+$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic in us-east-1."
  }
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
