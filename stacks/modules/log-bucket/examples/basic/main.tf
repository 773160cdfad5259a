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

module "logs" {
  source = "../.."

  bucket_name                 = "shop-example-logs-111111111111"
  allow_s3_server_access_logs = true
  allow_elb_access_logs       = true
  retention_days              = 400
}

output "bucket_name" {
  description = "Name of the example log bucket."
  value       = module.logs.bucket_name
}
