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

module "iam" {
  source = "../.."

  region                        = "eu-west-1"
  name                          = "shop-example"
  project_name                  = "shop"
  environment                   = "nonprod"
  create_github_oidc_provider   = true
  github_repositories           = ["example-org/shop"]
  github_branches               = ["main"]
  github_environments           = ["nonprod"]
  terraform_execution_role_arns = ["arn:aws:iam::111111111111:role/Terraform"]
  cluster_name                  = "shop-example-eks"
  cluster_oidc_provider_arn     = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  cluster_oidc_issuer_url       = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  vpc_id                        = "vpc-0123456789abcdef0"
  ecr_repository_prefix         = "ecom-"
}

output "github_actions_role_arn" {
  description = "Role for the Terraform workflow."
  value       = module.iam.github_actions_role_arn
}
