locals {
  repositories = merge(
    { for s in var.services : s => "${var.prefix}/${s}" },
    { for m in var.mirrors : "mirrors/${m}" => "mirrors/${m}" },
  )

  pull_accounts = distinct([for a in var.pull_role_arns : split(":", a)[4]])
  partition     = length(var.pull_role_arns) > 0 ? split(":", var.pull_role_arns[0])[1] : "aws"
}

resource "aws_ecr_repository" "this" {
  for_each = local.repositories

  name                 = each.value
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after ${var.untagged_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the last ${var.keep_images} tagged images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Promotion by digest: the other account's deploy role may read images, never write.
data "aws_iam_policy_document" "pull" {
  count = length(var.pull_role_arns) > 0 ? 1 : 0

  statement {
    sid = "PullForPromotion"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
    ]

    principals {
      type        = "AWS"
      identifiers = [for a in local.pull_accounts : "arn:${local.partition}:iam::${a}:root"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = var.pull_role_arns
    }
  }
}

resource "aws_ecr_repository_policy" "pull" {
  for_each = length(var.pull_role_arns) > 0 ? aws_ecr_repository.this : {}

  repository = each.value.name
  policy     = data.aws_iam_policy_document.pull[0].json
}
