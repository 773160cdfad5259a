terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"

  default_tags {
    tags = {
      Project     = "shop"
      Environment = "example"
      ManagedBy   = "terraform"
    }
  }
}

module "kms" {
  source = "../../../kms-key"

  alias_name     = "alias/shop/example-bucket"
  description    = "Example bucket key"
  user_role_arns = ["arn:aws:iam::111111111111:role/ci"]
}

module "access_logs" {
  source = "../../../log-bucket"

  bucket_name = "shop-example-access-logs-111111111111"
}

module "bucket" {
  source = "../.."

  bucket_name                = "shop-example-artifacts-111111111111"
  kms_key_arn                = module.kms.key_arn
  access_log_bucket          = module.access_logs.bucket_name
  trusted_role_arns          = ["arn:aws:iam::111111111111:role/ci"]
  admin_role_arns            = ["arn:aws:iam::111111111111:role/Terraform"]
  object_lock_retention_days = 30
  transitions                = [{ days = 30, storage_class = "STANDARD_IA" }]
  expiration_days            = 365
}

output "bucket_arn" {
  description = "ARN of the example bucket."
  value       = module.bucket.bucket_arn
}
