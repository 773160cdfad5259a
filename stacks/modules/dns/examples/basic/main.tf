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

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

module "dns" {
  source = "../.."
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  domain_name        = "shop.example.com"
  create_hosted_zone = true
}

output "name_servers" {
  description = "Delegate shop.example.com to these name servers."
  value       = module.dns.name_servers
}

output "ds_record" {
  description = "Publish this DS record at the parent zone."
  value       = module.dns.ds_record
}
