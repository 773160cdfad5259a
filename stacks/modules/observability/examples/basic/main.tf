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

  alias_name  = "alias/shop/example-observability"
  description = "Example log and topic key"

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.eu-west-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
  }]
}

module "alarms" {
  source = "../../../alarms"

  name         = "shop-example"
  alert_emails = ["oncall@example.com"]
  kms_key_arn  = module.kms.key_arn
}

module "observability" {
  source = "../.."

  name                   = "shop-example"
  region                 = "eu-west-1"
  cluster_name           = "shop-example-eks"
  oidc_provider_arn      = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  oidc_issuer_url        = "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE"
  enable_grafana         = true
  logs_kms_key_arn       = module.kms.key_arn
  alarm_topic_arn        = module.alarms.topic_arn
  db_instance_identifier = "shop-example-db"
  alb_arn                = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-example/0123456789abcdef"
  waf_web_acl_arn        = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/shop-example/01234567-89ab-cdef-0123-456789abcdef"
}

output "amp_remote_write_endpoint" {
  description = "Remote-write URL."
  value       = module.observability.amp_remote_write_endpoint
}
