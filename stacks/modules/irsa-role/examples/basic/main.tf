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

data "aws_iam_policy_document" "read_secret" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/example/*"]
  }
}

module "role" {
  source = "../.."

  name              = "shop-example-reader"
  oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  oidc_issuer_url   = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  service_accounts  = ["ecommerce:reader"]
  policy_json       = data.aws_iam_policy_document.read_secret.json
}

output "role_arn" {
  description = "IRSA role."
  value       = module.role.role_arn
}
