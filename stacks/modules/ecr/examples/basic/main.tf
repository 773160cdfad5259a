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

  alias_name  = "alias/shop/example-ecr"
  description = "Example ECR key"
}

module "ecr" {
  source = "../.."

  prefix         = "shop"
  services       = ["frontend", "catalog"]
  mirrors        = ["debian", "calico/node"]
  kms_key_arn    = module.kms.key_arn
  pull_role_arns = ["arn:aws:iam::333333333333:role/shop-prod-app-deployer"]
}

output "repository_urls" {
  description = "Repositories."
  value       = module.ecr.repository_urls
}
