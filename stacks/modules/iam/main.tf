data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = var.region

  github_provider_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.github_oidc_provider_arn

  # Exact sub claims: one per repository and branch, and per repository and environment.
  github_subjects = concat(
    [for pair in setproduct(var.github_repositories, var.github_branches) : "repo:${pair[0]}:ref:refs/heads/${pair[1]}"],
    [for pair in setproduct(var.github_repositories, var.github_environments) : "repo:${pair[0]}:environment:${pair[1]}"],
  )

  cluster_oidc_host = replace(var.cluster_oidc_issuer_url, "https://", "")
  secret_prefix     = "${var.project_name}/${var.environment}"
}

# --- GitHub OIDC ------------------------------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

data "aws_iam_policy_document" "github_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = local.github_subjects
    }
  }
}

resource "aws_iam_role" "github_actions" {
  name                 = "${var.name}-github-terraform"
  description          = "Assumed by GitHub Actions (OIDC) to run Terraform through ecomctl"
  assume_role_policy   = data.aws_iam_policy_document.github_trust.json
  max_session_duration = 3600
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = var.create_github_oidc_provider || var.github_oidc_provider_arn != null
      error_message = "Set github_oidc_provider_arn when create_github_oidc_provider is false."
    }
  }
}

data "aws_iam_policy_document" "github_actions" {
  count = length(var.terraform_execution_role_arns) > 0 ? 1 : 0

  statement {
    sid       = "AssumeTerraformExecutionRole"
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = var.terraform_execution_role_arns
  }
}

resource "aws_iam_role_policy" "github_actions" {
  count = length(var.terraform_execution_role_arns) > 0 ? 1 : 0

  name   = "assume-terraform-execution-role"
  role   = aws_iam_role.github_actions.id
  policy = data.aws_iam_policy_document.github_actions[0].json
}

resource "aws_iam_role_policy_attachment" "github_actions" {
  for_each = toset(var.github_actions_policy_arns)

  role       = aws_iam_role.github_actions.name
  policy_arn = each.value
}

resource "aws_iam_role" "app_deployer" {
  name                 = "${var.name}-app-deployer"
  description          = "Assumed by GitHub Actions (OIDC) to push images to ECR and run Helm"
  assume_role_policy   = data.aws_iam_policy_document.github_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

data "aws_iam_policy_document" "app_deployer" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken does not support resource-level permissions.
  }

  statement {
    sid = "EcrPushPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:ListImages",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = ["arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${var.ecr_repository_prefix}*"]
  }

  statement {
    sid       = "DescribeCluster"
    actions   = ["eks:DescribeCluster"]
    resources = ["arn:${local.partition}:eks:${local.region}:${local.account_id}:cluster/${var.cluster_name}"]
  }
}

resource "aws_iam_role_policy" "app_deployer" {
  name   = "push-images-and-deploy"
  role   = aws_iam_role.app_deployer.id
  policy = data.aws_iam_policy_document.app_deployer.json
}

# --- IRSA: application workloads --------------------------------------------------

data "aws_iam_policy_document" "app_irsa_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.cluster_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.cluster_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "${local.cluster_oidc_host}:sub"
      values   = ["system:serviceaccount:${var.app_namespace}:*"]
    }
  }
}

resource "aws_iam_role" "app_irsa" {
  name               = "${var.name}-app-irsa"
  description        = "Assumed by pods in ${var.app_namespace} to read this environment's secrets and parameters"
  assume_role_policy = data.aws_iam_policy_document.app_irsa_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "app_irsa" {
  statement {
    sid       = "ReadEnvironmentSecretsByName"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.secret_prefix}/*"]
  }

  # RDS-managed master secrets are named rds!... and cannot carry a prefix; they
  # are matched by the Project/Environment tags the app stack puts on them.
  statement {
    sid       = "ReadEnvironmentSecretsByTag"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = ["arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = [var.project_name]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Environment"
      values   = [var.environment]
    }
  }

  statement {
    sid       = "ReadEnvironmentParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${local.secret_prefix}/*"]
  }

  statement {
    sid       = "DecryptThroughSecretsManagerAndSsm"
    actions   = ["kms:Decrypt"]
    resources = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com", "ssm.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "app_irsa" {
  name   = "read-environment-secrets"
  role   = aws_iam_role.app_irsa.id
  policy = data.aws_iam_policy_document.app_irsa.json
}

# --- IRSA: AWS Load Balancer Controller (TargetGroupBinding mode) -----------------
#
# The ALB and its target groups are owned by Terraform; the controller only
# registers pod IPs in them and opens the node security group to the ALB. It is
# therefore not given the permissions to create or delete load balancers.

data "aws_iam_policy_document" "lb_controller_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.cluster_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.cluster_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.cluster_oidc_host}:sub"
      values   = ["system:serviceaccount:kube-system:aws-load-balancer-controller"]
    }
  }
}

resource "aws_iam_role" "lb_controller" {
  name               = "${var.name}-aws-lb-controller"
  description        = "IRSA role of the AWS Load Balancer Controller (TargetGroupBinding only)"
  assume_role_policy = data.aws_iam_policy_document.lb_controller_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "lb_controller" {
  statement {
    sid = "Describe"
    actions = [
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeInstances",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
    ]
    resources = ["*"] # Describe* calls do not support resource-level permissions.
  }

  dynamic "statement" {
    for_each = length(var.target_group_arns) > 0 ? [1] : []
    content {
      sid       = "RegisterPodTargets"
      actions   = ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
      resources = var.target_group_arns
    }
  }

  statement {
    sid       = "OpenNodeSecurityGroupToAlb"
    actions   = ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/*"]

    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc/${var.vpc_id}"]
    }
  }
}

resource "aws_iam_role_policy" "lb_controller" {
  name   = "target-group-binding"
  role   = aws_iam_role.lb_controller.id
  policy = data.aws_iam_policy_document.lb_controller.json
}
