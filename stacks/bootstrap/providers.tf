provider "aws" {
  region = var.region

  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]
    content {
      role_arn     = assume_role.value
      session_name = "${var.project_name}-bootstrap"
    }
  }

  default_tags {
    tags = local.tags
  }
}

locals {
  tags = merge(var.tags, {
    Project            = var.project_name
    Environment        = "shared"
    Owner              = var.owner
    DataClassification = "confidential"
    ManagedBy          = "terraform"
    Stage              = "bootstrap"
  })
}
