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

  alias_name     = "alias/shop/example-lock"
  description    = "Example lock table key"
  user_role_arns = ["arn:aws:iam::111111111111:role/Terraform"]
}

module "lock_table" {
  source = "../.."

  table_name  = "shop-example-tf-lock"
  kms_key_arn = module.kms.key_arn
}

output "table_name" {
  description = "Name of the example lock table."
  value       = module.lock_table.table_name
}
