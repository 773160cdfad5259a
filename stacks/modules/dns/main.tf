data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  zone_id     = var.create_hosted_zone ? aws_route53_zone.this[0].zone_id : var.zone_id
  log_group   = "/aws/route53/${var.domain_name}"
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  sign_zone   = var.create_hosted_zone && var.enable_dnssec
  zone_create = var.create_hosted_zone ? 1 : 0
}

resource "aws_route53_zone" "this" {
  count = local.zone_create

  name    = var.domain_name
  comment = "Public zone of ${var.domain_name}, managed by Terraform"
  tags    = var.tags

  lifecycle {
    precondition {
      condition     = var.create_hosted_zone || var.zone_id != null
      error_message = "Set zone_id when create_hosted_zone is false."
    }
  }
}

# Only Amazon may issue certificates for this domain.
resource "aws_route53_record" "caa" {
  count = local.zone_create

  zone_id = local.zone_id
  name    = var.domain_name
  type    = "CAA"
  ttl     = 3600
  records = ["0 issue \"amazon.com\"", "0 issuewild \"amazon.com\""]
}

# --- query logging (log group in us-east-1, as Route53 requires) -------------------

module "query_log_kms" {
  source = "../kms-key"
  count  = local.zone_create
  providers = {
    aws = aws.us_east_1
  }

  alias_name  = "alias/route53/${replace(var.domain_name, ".", "-")}/query-logs"
  description = "Route53 query logs of ${var.domain_name}"
  tags        = var.tags

  service_statements = [{
    sid        = "CloudWatchLogs"
    principals = ["logs.us-east-1.amazonaws.com"]
    actions    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    conditions = [{
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:us-east-1:${local.account_id}:log-group:${local.log_group}"]
    }]
  }]
}

resource "aws_cloudwatch_log_group" "query_logs" {
  count    = local.zone_create
  provider = aws.us_east_1

  name              = local.log_group
  retention_in_days = var.query_log_retention_days
  kms_key_id        = module.query_log_kms[0].key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "query_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:us-east-1:${local.account_id}:log-group:${local.log_group}:*"]

    principals {
      type        = "Service"
      identifiers = ["route53.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "query_logs" {
  count    = local.zone_create
  provider = aws.us_east_1

  policy_name     = "route53-query-logs-${replace(var.domain_name, ".", "-")}"
  policy_document = data.aws_iam_policy_document.query_logs.json
}

resource "aws_route53_query_log" "this" {
  count = local.zone_create

  zone_id                  = local.zone_id
  cloudwatch_log_group_arn = aws_cloudwatch_log_group.query_logs[0].arn

  depends_on = [aws_cloudwatch_log_resource_policy.query_logs]
}

# --- DNSSEC --------------------------------------------------------------------------

data "aws_iam_policy_document" "dnssec" {
  #checkov:skip=CKV_AWS_109:Key policy: Resource "*" is this key; admin is limited to the account root.
  #checkov:skip=CKV_AWS_111:Key policy: Resource "*" is this key; signing is limited to Route53 DNSSEC for this account.
  #checkov:skip=CKV_AWS_356:Key policy: Resource "*" is the only valid value and refers to this key.
  statement {
    sid       = "KeyAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "Route53DnssecSigning"
    actions   = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["dnssec-route53.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "Route53DnssecGrant"
    actions   = ["kms:CreateGrant"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["dnssec-route53.amazonaws.com"]
    }

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

resource "aws_kms_key" "dnssec" {
  #checkov:skip=CKV_AWS_7:Asymmetric ECC_NIST_P256 signing keys cannot be rotated by KMS; rotate the key-signing key in Route53 instead.
  count    = local.sign_zone ? 1 : 0
  provider = aws.us_east_1

  description              = "DNSSEC key-signing key of ${var.domain_name}"
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage                = "SIGN_VERIFY"
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.dnssec.json
  tags                     = var.tags
}

resource "aws_route53_key_signing_key" "this" {
  count = local.sign_zone ? 1 : 0

  hosted_zone_id             = local.zone_id
  key_management_service_arn = aws_kms_key.dnssec[0].arn
  name                       = "ksk1"
}

resource "aws_route53_hosted_zone_dnssec" "this" {
  count = local.sign_zone ? 1 : 0

  hosted_zone_id = aws_route53_key_signing_key.this[0].hosted_zone_id
}

# --- certificate -----------------------------------------------------------------------

resource "aws_acm_certificate" "this" {
  domain_name               = var.domain_name
  subject_alternative_names = ["*.${var.domain_name}"]
  validation_method         = "DNS"
  key_algorithm             = "RSA_2048"
  tags                      = var.tags

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  lifecycle {
    create_before_destroy = true
  }
}

# The apex and the wildcard share one validation record; allow_overwrite lets
# both entries write it.
resource "aws_route53_record" "validation" {
  for_each = {
    for dvo in aws_acm_certificate.this.domain_validation_options : dvo.domain_name => {
      name   = dvo.resource_record_name
      type   = dvo.resource_record_type
      record = dvo.resource_record_value
    }
  }

  zone_id         = local.zone_id
  name            = each.value.name
  type            = each.value.type
  ttl             = 300
  records         = [each.value.record]
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}
