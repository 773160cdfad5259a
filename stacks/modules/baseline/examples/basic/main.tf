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

module "logs_kms" {
  source = "../../../kms-key"

  alias_name  = "alias/shop/example-baseline-logs"
  description = "Example trail log group key"

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.eu-west-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
  }]
}

module "baseline" {
  source = "../.."

  name               = "shop-example"
  region             = "eu-west-1"
  audit_bucket_name  = "shop-audit-logs-111111111111"
  audit_kms_key_arn  = "arn:aws:kms:eu-west-1:111111111111:key/01234567-89ab-cdef-0123-456789abcdef"
  logs_kms_key_arn   = module.logs_kms.key_arn
  alert_emails       = ["finance@example.com"]
  monthly_budget_usd = 500
  enable_detective   = false
}

output "trail_arn" {
  description = "The trail."
  value       = module.baseline.trail_arn
}
