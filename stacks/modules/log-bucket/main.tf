data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_145:S3 server access logs and ALB access logs can only be delivered to buckets encrypted with SSE-S3, not SSE-KMS.
  #checkov:skip=CKV_AWS_18:This is the access-log destination; logging it into itself would loop, and into another bucket would only move the problem.
  #checkov:skip=CKV_AWS_144:Logs are kept versioned in-region for their retention period; replicating them is a per-deployment DR choice.
  #checkov:skip=CKV2_AWS_62:Objects are written only by AWS log delivery and read in batch; per-object event notifications add nothing.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  # Tells the policy gate (ECOM-TF-S3-001) that this bucket is an AWS log-delivery destination,
  # which may only be encrypted with SSE-S3.
  tags = merge(var.tags, { "ecomctl:log-delivery" = "aws-log-delivery" })
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

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    transition {
      days          = 30
      storage_class = "STANDARD_IA"
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
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    # {"AWS": "*"} means everyone, exactly as "*" does; written this way because moto (the
    # tests' S3) fails PutBucketLogging into a bucket whose policy has a bare "*" principal.
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  dynamic "statement" {
    for_each = var.allow_s3_server_access_logs ? [1] : []
    content {
      sid       = "S3ServerAccessLogsDelivery"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.this.arn}/*"]

      principals {
        type        = "Service"
        identifiers = ["logging.s3.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = var.allow_elb_access_logs ? [1] : []
    content {
      sid       = "ElbAccessLogsDelivery"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.this.arn}/elb/AWSLogs/${local.account_id}/*"]

      principals {
        type        = "Service"
        identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.allow_elb_access_logs ? [1] : []
    content {
      sid       = "ElbAccessLogsDeliveryLegacyRegions"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.this.arn}/elb/AWSLogs/${local.account_id}/*"]

      principals {
        type        = "AWS"
        identifiers = [data.aws_elb_service_account.current[0].arn]
      }
    }
  }
}

# Regions that existed before August 2022 deliver ALB logs from a regional
# ELB account rather than the log-delivery service principal.
data "aws_elb_service_account" "current" {
  count = var.allow_elb_access_logs ? 1 : 0
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
