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
  alias  = "dr"
  region = "eu-central-1"
}

module "kms" {
  source = "../../../kms-key"

  alias_name  = "alias/shop/example-db"
  description = "Example database key"
}

module "kms_dr" {
  source = "../../../kms-key"
  providers = {
    aws = aws.dr
  }

  alias_name  = "alias/shop/example-db-dr"
  description = "Example DR replica key"
}

module "logs_kms" {
  source = "../../../kms-key"

  alias_name  = "alias/shop/example-db-logs"
  description = "Example log group key"

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.eu-west-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
  }]
}

module "rds" {
  source = "../.."
  providers = {
    aws    = aws
    aws.dr = aws.dr
  }

  identifier                 = "shop-example-db"
  vpc_id                     = "vpc-0123456789abcdef0"
  subnet_ids                 = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  allowed_security_group_ids = ["sg-0123456789abcdef0"]
  engine_version             = "16.4"
  instance_class             = "db.r7g.large"
  allocated_storage_gib      = 100
  max_allocated_storage_gib  = 400
  multi_az                   = true
  production                 = true
  backup_retention_days      = 30
  db_name                    = "shop"
  username                   = "shop_admin"
  kms_key_arn                = module.kms.key_arn
  logs_kms_key_arn           = module.logs_kms.key_arn
  cross_region_replica       = true
  replica_kms_key_arn        = module.kms_dr.key_arn
}

output "endpoint" {
  description = "Writer endpoint."
  value       = module.rds.endpoint
}
