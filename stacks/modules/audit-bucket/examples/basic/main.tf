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
}

module "kms" {
  source = "../../../kms-key"

  alias_name  = "alias/shop/example-audit"
  description = "Example audit log key"

  service_statements = [{
    sid        = "CloudTrail"
    principals = ["cloudtrail.amazonaws.com"]
    actions    = ["kms:GenerateDataKey*", "kms:DescribeKey"]
  }]
}

module "access_logs" {
  source = "../../../log-bucket"

  bucket_name = "shop-example-access-logs"
}

module "audit_bucket" {
  source = "../.."

  bucket_name        = "shop-example-audit-logs"
  kms_key_arn        = module.kms.key_arn
  member_account_ids = ["222222222222", "333333333333"]
  access_log_bucket  = module.access_logs.bucket_name
}

output "bucket_name" {
  description = "The audit bucket."
  value       = module.audit_bucket.bucket_name
}
