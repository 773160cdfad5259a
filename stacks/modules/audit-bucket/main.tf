data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  arn       = "arn:${local.partition}:s3:::${var.bucket_name}"
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Audit logs stay in the home region under Object Lock; a cross-region copy is a per-deployment DR decision documented in docs/dr-runbook.md.
  #checkov:skip=CKV2_AWS_62:Objects are written only by CloudTrail and AWS Config and read in batch; per-object event notifications add nothing.
  bucket              = var.bucket_name
  object_lock_enabled = var.object_lock_retention_days != null
  force_destroy       = false
  tags                = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "this" {
  count  = var.object_lock_retention_days == null ? 0 : 1
  bucket = aws_s3_bucket.this.id

  rule {
    default_retention {
      mode = "COMPLIANCE"
      days = var.object_lock_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "this" {
  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = "${var.bucket_name}/"
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "retain-then-expire"
    status = "Enabled"

    filter {}

    transition {
      days          = 90
      storage_class = "GLACIER_IR"
    }

    expiration {
      days = var.retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.arn, "${local.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "AuditServicesCheckBucket"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [local.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = var.member_account_ids
    }
  }

  # Each account writes only under its own AWSLogs/<account>/ prefix.
  dynamic "statement" {
    for_each = toset(var.member_account_ids)
    content {
      sid       = "AuditServicesWrite${statement.value}"
      actions   = ["s3:PutObject"]
      resources = ["${local.arn}/AWSLogs/${statement.value}/*"]

      principals {
        type        = "Service"
        identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [statement.value]
      }
    }
  }

  # AWS Config delivers with the member account's recorder role.
  statement {
    sid       = "ConfigRecorderRolesWrite"
    actions   = ["s3:PutObject", "s3:GetBucketAcl", "s3:ListBucket"]
    resources = [local.arn, "${local.arn}/AWSLogs/*"]

    principals {
      type        = "AWS"
      identifiers = [for a in var.member_account_ids : "arn:${local.partition}:iam::${a}:root"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:PrincipalArn"
      values   = [for a in var.member_account_ids : "arn:${local.partition}:iam::${a}:role/*-config-recorder"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
