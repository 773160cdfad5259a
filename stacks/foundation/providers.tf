provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "${var.project_name}-${var.environment}-foundation"
    }
  }

  default_tags {
    tags = local.tags
  }
}

# Route53 query logs and DNSSEC signing keys must live in us-east-1.
provider "aws" {
  alias               = "us_east_1"
  region              = "us-east-1"
  allowed_account_ids = [var.account_id]

  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "${var.project_name}-${var.environment}-foundation"
    }
  }

  default_tags {
    tags = local.tags
  }
}
