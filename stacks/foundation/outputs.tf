output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = module.network.vpc_cidr
}

output "public_subnet_ids" {
  description = "Public subnet IDs (ALB, NAT gateways), one per AZ."
  value       = module.network.public_subnet_ids
}

output "app_subnet_ids" {
  description = "Private app subnet IDs (EKS nodes, pods, endpoints), one per AZ."
  value       = module.network.app_subnet_ids
}

output "data_subnet_ids" {
  description = "Isolated data subnet IDs (RDS), one per AZ."
  value       = module.network.data_subnet_ids
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs (one, or one per AZ)."
  value       = module.network.nat_gateway_ids
}

output "transit_gateway_attachment_id" {
  description = "Transit Gateway VPC attachment ID, or null when no transit_gateway_id was given."
  value       = module.network.transit_gateway_attachment_id
}

output "hosted_zone_id" {
  description = "Route53 hosted zone ID of root_domain."
  value       = module.dns.zone_id
}

output "certificate_arn" {
  description = "ARN of the validated ACM certificate for root_domain and *.root_domain."
  value       = module.dns.certificate_arn
}

output "cluster_name" {
  description = "EKS cluster name."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "EKS API server endpoint."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA bundle of the EKS API server."
  value       = module.eks.cluster_certificate_authority_data
}

output "cluster_oidc_issuer_url" {
  description = "OIDC issuer URL of the EKS cluster (for IRSA)."
  value       = module.eks.oidc_issuer_url
}

output "oidc_provider_arn" {
  description = "ARN of the IAM OIDC provider of the EKS cluster (for IRSA)."
  value       = module.eks.oidc_provider_arn
}

output "node_security_group_id" {
  description = "Security group shared by EKS nodes and pods; the app stack lets it reach RDS."
  value       = module.eks.node_security_group_id
}

output "cognito_user_pool_id" {
  description = "Cognito user pool ID."
  value       = module.cognito.user_pool_id
}

output "cognito_user_pool_client_id" {
  description = "Cognito app client ID (authorization code + PKCE, no secret)."
  value       = module.cognito.client_id
}

output "cognito_domain" {
  description = "Cognito hosted UI domain (FQDN)."
  value       = module.cognito.domain
}

output "alb_arn" {
  description = "ARN of the public ALB."
  value       = module.edge.alb_arn
}

output "alb_dns_name" {
  description = "DNS name of the public ALB."
  value       = module.edge.alb_dns_name
}

output "ingress_target_group_arns" {
  description = "Map of public service name to its IP target group ARN, for TargetGroupBinding."
  value       = module.edge.target_group_arns
}

output "waf_web_acl_arn" {
  description = "ARN of the WAFv2 web ACL associated with the ALB."
  value       = module.edge.web_acl_arn
}

output "github_actions_role_arn" {
  description = "ARN of the role GitHub Actions assumes to run Terraform."
  value       = module.iam.github_actions_role_arn
}

output "app_deployer_role_arn" {
  description = "ARN of the role GitHub Actions assumes to push images and run Helm."
  value       = module.iam.app_deployer_role_arn
}

output "app_irsa_role_arn" {
  description = "ARN of the IRSA role for system:serviceaccount:ecommerce:* workloads."
  value       = module.iam.app_irsa_role_arn
}

output "lb_controller_role_arn" {
  description = "ARN of the IRSA role for the AWS Load Balancer Controller."
  value       = module.iam.lb_controller_role_arn
}

output "alarm_topic_arn" {
  description = "ARN of the KMS-encrypted SNS topic for foundational alarms."
  value       = module.alarms.topic_arn
}

output "cloudtrail_arn" {
  description = "ARN of this account's multi-region trail (to the shared-services audit bucket)."
  value       = module.baseline.trail_arn
}

output "guardduty_detector_id" {
  description = "GuardDuty detector of this account."
  value       = module.baseline.guardduty_detector_id
}

output "health_check_ids" {
  description = "Route 53 health check IDs by endpoint name."
  value       = module.health_checks.health_check_ids
}
