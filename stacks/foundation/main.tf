data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  prod         = var.environment == "prod"
  cluster_name = "${local.name}-eks"
  runner_arn   = data.aws_iam_session_context.current.issuer_arn
  partition    = data.aws_partition.current.partition

  # Port the services listen on: the target groups' port and the ALB-to-pod rule.
  service_port = 8080
}

# Key for this environment's log groups (flow logs, EKS control plane, WAF)
# and the alarm topic.
module "logs_kms" {
  source = "../modules/kms-key"

  alias_name      = "alias/${var.project_name}/${var.environment}/logs"
  description     = "${local.name}: CloudWatch log groups and the alarm topic"
  admin_role_arns = [local.runner_arn]

  service_statements = [
    {
      sid        = "CloudWatchLogs"
      principals = ["logs.${var.region}.amazonaws.com"]
      actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      conditions = [{
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${local.partition}:logs:${var.region}:${var.account_id}:log-group:*"]
      }]
    },
    {
      sid        = "CloudWatchAlarmsToEncryptedTopic"
      principals = ["cloudwatch.amazonaws.com"]
      actions    = ["kms:Decrypt", "kms:GenerateDataKey*"]
      conditions = [{
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [var.account_id]
      }]
    },
  ]
}

module "alarms" {
  source = "../modules/alarms"

  name         = local.name
  alert_emails = var.alert_emails
  kms_key_arn  = module.logs_kms.key_arn
}

module "network" {
  source = "../modules/network"
  region = var.region

  name                    = local.name
  vpc_cidr                = var.vpc_cidr
  az_count                = var.az_count
  single_nat_gateway      = var.single_nat_gateway
  transit_gateway_id      = var.transit_gateway_id
  flow_log_retention_days = var.log_retention_days
  logs_kms_key_arn        = module.logs_kms.key_arn

  public_subnet_tags = {
    "kubernetes.io/role/elb" = "1"
  }
  app_subnet_tags = {
    "kubernetes.io/role/internal-elb" = "1"
    "karpenter.sh/discovery"          = local.cluster_name
  }
}

module "dns" {
  source = "../modules/dns"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  domain_name              = var.root_domain
  create_hosted_zone       = var.create_hosted_zone
  zone_id                  = var.hosted_zone_id
  query_log_retention_days = var.log_retention_days
}

module "eks" {
  source = "../modules/eks"
  region = var.region

  cluster_name        = local.cluster_name
  kubernetes_version  = var.eks_version
  subnet_ids          = module.network.app_subnet_ids
  public_access_cidrs = var.eks_public_access_cidrs
  node_groups         = var.node_groups
  require_arm64       = local.prod
  fargate_profiles    = var.fargate_profiles
  log_retention_days  = var.log_retention_days
  logs_kms_key_arn    = module.logs_kms.key_arn

  # The VPC CNI add-on's own policy agent, unless Calico enforces the NetworkPolicies.
  enable_network_policy = var.network_policy_engine == "vpc-cni"

  cluster_admin_principal_arns = {
    app-deployer = module.iam.app_deployer_role_arn
  }
}

module "iam" {
  source = "../modules/iam"
  region = var.region

  name                          = local.name
  project_name                  = var.project_name
  environment                   = var.environment
  create_github_oidc_provider   = var.create_github_oidc_provider
  github_oidc_provider_arn      = var.github_oidc_provider_arn
  github_repositories           = var.github_repositories
  github_branches               = var.github_branches
  github_environments           = var.github_environments
  terraform_execution_role_arns = var.assume_role_arn == null ? [] : [var.assume_role_arn]
  cluster_name                  = module.eks.cluster_name
  cluster_oidc_provider_arn     = module.eks.oidc_provider_arn
  cluster_oidc_issuer_url       = module.eks.oidc_issuer_url
  vpc_id                        = module.network.vpc_id
  target_group_arns             = values(module.edge.target_group_arns)
}

module "cognito" {
  source = "../modules/cognito"
  region = var.region

  name                          = local.name
  domain_prefix                 = var.cognito_domain_prefix
  app_domain                    = var.root_domain
  mfa_required                  = local.prod
  deletion_protection           = var.deletion_protection
  smoke_test_user_email         = var.dummy_user_email
  smoke_test_user_temp_password = var.dummy_user_temp_password
}

module "alb_logs" {
  source = "../modules/log-bucket"

  bucket_name                 = "${local.name}-alb-logs-${var.account_id}"
  allow_s3_server_access_logs = false
  allow_elb_access_logs       = true
  retention_days              = max(365, var.log_retention_days)
}

module "edge" {
  source = "../modules/edge"

  name                = local.name
  vpc_id              = module.network.vpc_id
  vpc_cidr            = module.network.vpc_cidr
  public_subnet_ids   = module.network.public_subnet_ids
  certificate_arn     = module.dns.certificate_arn
  domain_name         = var.root_domain
  zone_id             = module.dns.zone_id
  services            = var.public_services
  service_port        = local.service_port
  access_log_bucket   = module.alb_logs.bucket_name
  access_log_prefix   = module.alb_logs.elb_log_prefix
  deletion_protection = var.deletion_protection
  waf_rate_limit      = var.waf_rate_limit
  log_retention_days  = var.log_retention_days
  logs_kms_key_arn    = module.logs_kms.key_arn
  create_alarms       = true
  alarm_topic_arn     = module.alarms.topic_arn
}

# The ALB reaches pods (IP targets) on the service port through the cluster
# security group that nodes and Fargate pods share.
resource "aws_vpc_security_group_ingress_rule" "alb_to_pods" {
  security_group_id            = module.eks.node_security_group_id
  description                  = "ALB to service pods"
  ip_protocol                  = "tcp"
  from_port                    = local.service_port
  to_port                      = local.service_port
  referenced_security_group_id = module.edge.alb_security_group_id
}
