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

  alias_name  = "alias/shop/example-waf-logs"
  description = "Example WAF log key"

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.eu-west-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
  }]
}

module "alb_logs" {
  source = "../../../log-bucket"

  bucket_name                 = "shop-example-alb-logs-111111111111"
  allow_s3_server_access_logs = false
  allow_elb_access_logs       = true
}

module "edge" {
  source = "../.."

  name              = "shop-example"
  vpc_id            = "vpc-0123456789abcdef0"
  vpc_cidr          = "10.40.0.0/16"
  public_subnet_ids = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  certificate_arn   = "arn:aws:acm:eu-west-1:111111111111:certificate/00000000-0000-0000-0000-000000000000"
  domain_name       = "shop.example.com"
  zone_id           = "Z0123456789ABCDEFGHIJ"
  access_log_bucket = module.alb_logs.bucket_name
  logs_kms_key_arn  = module.kms.key_arn
  waf_rate_limit    = 1000
  create_alarms     = false
}

output "target_group_arns" {
  description = "Service to target group ARN."
  value       = module.edge.target_group_arns
}
