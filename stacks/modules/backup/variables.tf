variable "name" {
  description = "Name prefix, e.g. shop-prod; the role is <name>-velero."
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

variable "service_account" {
  description = "Velero's service account, \"namespace:name\"."
  type        = string
  default     = "velero:velero"
}

variable "bucket_arn" {
  description = "ARN of the artifacts bucket (shared-services account) that holds backups."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN."
  }
}

variable "prefix" {
  description = "Key prefix of this environment's backups in the bucket, e.g. velero/prod. Velero may touch nothing else."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.prefix))
    error_message = "prefix must be a relative key prefix without leading or trailing slash."
  }
}

variable "bucket_kms_key_arn" {
  description = "KMS key the bucket enforces (the bootstrap key); Velero encrypts with it."
  type        = string
}

variable "tags" {
  description = "Tags for the role (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}
