data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "velero" {
  statement {
    sid       = "ListOwnPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.prefix, "${var.prefix}/*"]
    }
  }

  statement {
    sid = "ObjectsUnderOwnPrefix"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
    ]
    resources = ["${var.bucket_arn}/${var.prefix}/*"]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.bucket_kms_key_arn]
  }

  # Volume snapshots of this account's EBS volumes (persistent volumes).
  statement {
    sid = "DescribeVolumes"
    actions = [
      "ec2:DescribeSnapshots",
      "ec2:DescribeVolumes",
    ]
    resources = ["*"] # Describe calls have no resource-level permissions.
  }

  statement {
    sid = "Snapshots"
    actions = [
      "ec2:CreateSnapshot",
      "ec2:CreateTags",
      "ec2:CreateVolume",
      "ec2:DeleteSnapshot",
    ]
    resources = [
      "arn:${local.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:volume/*",
      "arn:${local.partition}:ec2:*::snapshot/*",
    ]
  }
}

module "role" {
  source = "../irsa-role"

  name              = "${var.name}-velero"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  service_accounts  = [var.service_account]
  policy_json       = data.aws_iam_policy_document.velero.json
  tags              = var.tags
}
