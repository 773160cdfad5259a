variable "name" {
  description = "Name prefix, e.g. shop-prod. ALB and target group names are cut from it to fit AWS's 32-character limit."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.name))
    error_message = "name must be 2-63 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_id" {
  description = "VPC of the ALB and target groups."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; the ALB may only send traffic inside it."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets for the ALB (at least two AZs)."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must list at least two subnets."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener."
  type        = string
}

variable "domain_name" {
  description = "Public domain; apex and www alias records point at the ALB."
  type        = string
}

variable "zone_id" {
  description = "Hosted zone of domain_name."
  type        = string
}

variable "services" {
  description = "Public services; each gets an IP target group. The first matching of \"frontend\" is the default route, the others are routed by path /api/<service>/* (login also by /auth/*)."
  type        = list(string)
  default     = ["frontend", "login", "catalog", "orders", "payments"]

  validation {
    condition     = length(var.services) > 0 && alltrue([for s in var.services : can(regex("^[a-z][a-z0-9-]{0,19}$", s))])
    error_message = "services must be non-empty names of 1-20 lowercase letters, digits and hyphens."
  }
}

variable "service_port" {
  description = "Container port the services listen on (target group port)."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "Readiness path the target groups probe."
  type        = string
  default     = "/readyz"
}

variable "access_log_bucket" {
  description = "Bucket for ALB access logs (must allow ELB log delivery under access_log_prefix)."
  type        = string
}

variable "access_log_prefix" {
  description = "Key prefix for ALB access logs."
  type        = string
  default     = "elb"
}

variable "deletion_protection" {
  description = "Protect the ALB from deletion."
  type        = bool
  default     = true
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener (TLS 1.2 and 1.3 only)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-1-2") || startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-1-3")
    error_message = "ssl_policy must be a TLS 1.2+/1.3 policy (ELBSecurityPolicy-TLS13-1-2-* or ELBSecurityPolicy-TLS13-1-3-*)."
  }
}

variable "waf_rate_limit" {
  description = "Requests per client IP per 5 minutes before the rate-based rule blocks."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 100
    error_message = "waf_rate_limit must be at least 100."
  }
}

variable "log_retention_days" {
  description = "Retention of the WAF log group, in days (a CloudWatch-allowed value)."
  type        = number
  default     = 365
}

variable "logs_kms_key_arn" {
  description = "KMS key that encrypts the WAF log group."
  type        = string
}

variable "create_alarms" {
  description = "Create CloudWatch alarms for ALB 5xx responses and unhealthy targets (needs alarm_topic_arn)."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "SNS topic the ALB alarms notify."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
