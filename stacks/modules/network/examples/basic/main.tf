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

  alias_name  = "alias/shop/example-logs"
  description = "Example log group key"

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.eu-west-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
  }]
}

module "network" {
  source = "../.."

  region             = "eu-west-1"
  name               = "shop-example"
  vpc_cidr           = "10.40.0.0/16"
  az_count           = 2
  single_nat_gateway = true
  logs_kms_key_arn   = module.kms.key_arn
}

output "app_subnet_ids" {
  description = "Private app subnets of the example VPC."
  value       = module.network.app_subnet_ids
}
