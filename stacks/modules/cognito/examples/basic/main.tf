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

variable "smoke_test_password" {
  description = "Temporary password of the smoke-test user (set TF_VAR_smoke_test_password)."
  type        = string
  default     = null
  sensitive   = true
}

module "cognito" {
  source = "../.."

  region                        = "eu-west-1"
  name                          = "shop-example"
  domain_prefix                 = "shop-example-login"
  app_domain                    = "shop.example.com"
  mfa_required                  = true
  smoke_test_user_email         = "smoke@example.com"
  smoke_test_user_temp_password = var.smoke_test_password
}

output "client_id" {
  description = "Web client ID."
  value       = module.cognito.client_id
}
