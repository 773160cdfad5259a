variable "name" {
  description = "Name prefix for the roles, e.g. shop-prod."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "project_name" {
  description = "Project name; secrets and parameters under <project>/<environment>/ belong to this environment."
  type        = string
}

variable "environment" {
  description = "Environment name (nonprod or prod)."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider (false reuses github_oidc_provider_arn)."
  type        = bool
  default     = true
}

variable "github_oidc_provider_arn" {
  description = "Existing GitHub OIDC provider ARN, used when create_github_oidc_provider is false."
  type        = string
  default     = null
}

variable "github_repositories" {
  description = "\"org/repo\" entries whose workflows may assume the GitHub roles."
  type        = list(string)

  validation {
    condition     = length(var.github_repositories) > 0 && alltrue([for r in var.github_repositories : can(regex("^[A-Za-z0-9-]+/[A-Za-z0-9_.-]+$", r))])
    error_message = "github_repositories must contain at least one \"org/repo\" entry."
  }
}

variable "github_branches" {
  description = "Branches allowed in the token's sub claim (repo:<org/repo>:ref:refs/heads/<branch>)."
  type        = list(string)
  default     = ["main"]
}

variable "github_environments" {
  description = "GitHub environments allowed in the token's sub claim (repo:<org/repo>:environment:<env>)."
  type        = list(string)
  default     = []
}

variable "terraform_execution_role_arns" {
  description = "Roles the GitHub Terraform role may assume to plan and apply (the environment's Terraform execution role)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.terraform_execution_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "terraform_execution_role_arns must contain only IAM role ARNs."
  }
}

variable "github_actions_policy_arns" {
  description = "Extra managed policies for the GitHub Terraform role, e.g. when no execution role is used. Empty by default: the role can only assume terraform_execution_role_arns."
  type        = list(string)
  default     = []
}

variable "cluster_name" {
  description = "EKS cluster the deployer may describe."
  type        = string
}

variable "cluster_oidc_provider_arn" {
  description = "IAM OIDC provider of the EKS cluster (for IRSA trust)."
  type        = string
}

variable "cluster_oidc_issuer_url" {
  description = "OIDC issuer URL of the EKS cluster."
  type        = string
}

variable "app_namespace" {
  description = "Kubernetes namespace whose service accounts may assume the app IRSA role."
  type        = string
  default     = "ecommerce"
}

variable "ecr_repository_prefix" {
  description = "The deployer may push only to ECR repositories whose names start with this prefix (empty means any repository in this account and region)."
  type        = string
  default     = ""
}

variable "vpc_id" {
  description = "VPC of the cluster; the Load Balancer Controller may only touch security groups in it."
  type        = string
}

variable "target_group_arns" {
  description = "Target groups the AWS Load Balancer Controller may register pods in (TargetGroupBinding mode)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "region" {
  description = "AWS region the module's provider targets; used in ARNs, endpoint service names and domain names (passed in rather than read from data.aws_region, whose attribute names differ between provider 5.x and 6.x)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}
