terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }

  # Partial configuration: ecomctl renders backend.hcl (bucket, key, region,
  # kms_key_id, lock settings) for the Terraform version it finds. The very
  # first apply runs with local state; see docs/bootstrap-state-migration.md.
  backend "s3" {}
}
