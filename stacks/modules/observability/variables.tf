variable "name" {
  description = "Name prefix, e.g. shop-prod."
  type        = string
}

variable "region" {
  description = "AWS region of the cluster (used in ARNs and alarm dimensions)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}

variable "cluster_name" {
  description = "EKS cluster the collectors run in."
  type        = string
}

variable "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster (IRSA)."
  type        = string
}

variable "oidc_issuer_url" {
  description = "OIDC issuer URL of the cluster (IRSA)."
  type        = string
}

variable "enable_amp" {
  description = "Create an Amazon Managed Service for Prometheus workspace (with its logs) and the ADOT collector's remote-write role."
  type        = bool
  default     = true
}

variable "enable_grafana" {
  description = "Create an Amazon Managed Grafana workspace (IAM Identity Center sign-in) reading AMP and CloudWatch."
  type        = bool
  default     = false
}

variable "enable_container_insights" {
  description = "Install the amazon-cloudwatch-observability EKS add-on (Container Insights) with its IRSA role."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of every log group this module creates."
  type        = number
  default     = 365
}

variable "logs_kms_key_arn" {
  description = "KMS key for the log groups and the AMP workspace (its policy must let CloudWatch Logs and AMP use it)."
  type        = string
}

variable "alarm_topic_arn" {
  description = "KMS-encrypted SNS topic the alarms notify."
  type        = string
}

variable "db_instance_identifier" {
  description = "RDS instance to alarm on (CPU, free storage, connections), or null for none."
  type        = string
  default     = null
}

variable "db_allocated_storage_gib" {
  description = "Allocated storage of the database; the free-storage alarm fires below 10 % of it."
  type        = number
  default     = 20
}

variable "db_max_connections_alarm" {
  description = "Connections above which the database alarm fires."
  type        = number
  default     = 400
}

variable "db_has_replica" {
  description = "The database has a cross-region replica: alarm on its replication slot lag."
  type        = bool
  default     = false
}

variable "alb_arn" {
  description = "ALB to alarm on (target 5xx, p99 latency), or null for none."
  type        = string
  default     = null
}

variable "alb_latency_p99_seconds" {
  description = "p99 target response time above which the latency alarm fires."
  type        = number
  default     = 1.5
}

variable "waf_web_acl_arn" {
  description = "Regional WAFv2 web ACL to alarm on (blocked-request spikes), or null for none."
  type        = string
  default     = null
}

variable "waf_blocked_requests_alarm" {
  description = "Blocked requests per 5 minutes above which the WAF spike alarm fires."
  type        = number
  default     = 1000
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
