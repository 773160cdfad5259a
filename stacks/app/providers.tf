provider "aws" {
  region              = var.region
  allowed_account_ids = [var.account_id]

  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "${var.project_name}-${var.environment}-app"
    }
  }

  default_tags {
    tags = local.tags
  }
}

# The disaster-recovery region: the cross-region read replica and its key.
# Without a dr_region it points at the primary region and is unused.
provider "aws" {
  alias               = "dr"
  region              = coalesce(var.dr_region, var.region)
  allowed_account_ids = [var.account_id]

  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "${var.project_name}-${var.environment}-app"
    }
  }

  default_tags {
    tags = local.tags
  }
}
