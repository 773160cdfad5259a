locals {
  name = "${var.project_name}-${var.environment}"

  tags = merge(var.tags, {
    Project            = var.project_name
    Environment        = var.environment
    Owner              = var.owner
    DataClassification = var.data_classification
    ManagedBy          = "terraform"
    Stage              = "foundation"
  })
}
