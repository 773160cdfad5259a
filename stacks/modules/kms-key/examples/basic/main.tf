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
  source = "../.."

  alias_name      = "alias/shop/example"
  description     = "Example key for application data"
  admin_role_arns = ["arn:aws:iam::111111111111:role/Terraform"]
  user_role_arns  = ["arn:aws:iam::111111111111:role/shop-app"]

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.eu-west-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    conditions = [{
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:eu-west-1:111111111111:log-group:*"]
    }]
  }]
}

output "key_arn" {
  description = "ARN of the example key."
  value       = module.kms.key_arn
}
