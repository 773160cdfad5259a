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

  alias_name  = "alias/shop/example-alarms"
  description = "Example alarm topic key"

  service_statements = [{
    sid        = "CloudWatchAlarms"
    principals = ["cloudwatch.amazonaws.com"]
    actions    = ["kms:Decrypt", "kms:GenerateDataKey*"]
  }]
}

module "alarms" {
  source = "../.."

  name         = "shop-example"
  alert_emails = ["oncall@example.com"]
  kms_key_arn  = module.kms.key_arn
}

output "topic_arn" {
  description = "Alarm topic."
  value       = module.alarms.topic_arn
}
