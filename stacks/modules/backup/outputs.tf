output "role_arn" {
  description = "IRSA role of Velero (annotate its service account with it)."
  value       = module.role.role_arn
}

output "bucket" {
  description = "Bucket name for Velero's BackupStorageLocation."
  value       = split(":::", var.bucket_arn)[1]
}

output "prefix" {
  description = "Prefix for Velero's BackupStorageLocation."
  value       = var.prefix
}
