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

module "backup" {
  source = "../.."

  name               = "shop-example"
  oidc_provider_arn  = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  oidc_issuer_url    = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  bucket_arn         = "arn:aws:s3:::shop-artifacts-111111111111"
  prefix             = "velero/example"
  bucket_kms_key_arn = "arn:aws:kms:eu-west-1:111111111111:key/01234567-89ab-cdef-0123-456789abcdef"
}

output "role_arn" {
  description = "Velero's role."
  value       = module.backup.role_arn
}
