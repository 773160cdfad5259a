output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (created or reused)."
  value       = local.github_provider_arn
}

output "github_actions_role_arn" {
  description = "ARN of the role GitHub Actions assumes to run Terraform."
  value       = aws_iam_role.github_actions.arn
}

output "app_deployer_role_arn" {
  description = "ARN of the role GitHub Actions assumes to push images and run Helm."
  value       = aws_iam_role.app_deployer.arn
}

output "app_irsa_role_arn" {
  description = "ARN of the IRSA role for the application namespace's service accounts."
  value       = aws_iam_role.app_irsa.arn
}

output "lb_controller_role_arn" {
  description = "ARN of the IRSA role for the AWS Load Balancer Controller."
  value       = aws_iam_role.lb_controller.arn
}
