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

  alias_name  = "alias/shop/example-eks-logs"
  description = "Example control-plane log key"

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.eu-west-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
  }]
}

module "eks" {
  source = "../.."

  region              = "eu-west-1"
  cluster_name        = "shop-example-eks"
  kubernetes_version  = "1.33"
  subnet_ids          = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  public_access_cidrs = ["203.0.113.0/24"]
  logs_kms_key_arn    = module.kms.key_arn
  require_arm64       = true

  node_groups = {
    general = {
      architecture   = "arm64"
      instance_types = ["m7g.large"]
      min_size       = 2
      max_size       = 6
      desired_size   = 2
      disk_size_gib  = 50
      capacity_type  = "ON_DEMAND"
    }
  }

  fargate_profiles = {
    system = {
      namespaces = ["karpenter"]
      labels     = {}
    }
  }
}

output "cluster_endpoint" {
  description = "API endpoint of the example cluster."
  value       = module.eks.cluster_endpoint
}
