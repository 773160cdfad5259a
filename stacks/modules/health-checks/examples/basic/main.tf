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
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

module "health_checks" {
  source = "../.."
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name            = "shop-example"
  domain_name     = "shop.example.com"
  alarm_topic_arn = "arn:aws:sns:us-east-1:123456789012:shop-example-alarms"
}

output "health_check_ids" {
  description = "Health checks."
  value       = module.health_checks.health_check_ids
}
