# The app stack's resources (RDS, ECR, AMP/Grafana) land in a later change.
# Until then the interface is fixed here: outputs that describe resources
# are null, and pass-through values come from the variables.

output "db_endpoint" {
  description = "Writer endpoint (host:port) of the RDS PostgreSQL instance."
  value       = null
}

output "db_port" {
  description = "Port of the RDS PostgreSQL instance."
  value       = null
}

output "db_name" {
  description = "Name of the initial database."
  value       = var.db_name
}

output "db_username" {
  description = "Master user name of the database."
  value       = var.db_username
}

output "db_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret holding the master credentials."
  value       = null
}

output "db_replica_endpoint" {
  description = "Endpoint of the cross-region read replica, or null when db_cross_region_replica is false."
  value       = null
}

output "ecr_repository_urls" {
  description = "Map of ECR repository name to repository URL."
  value       = {}
}

output "amp_workspace_id" {
  description = "AMP workspace ID, or null when enable_amp is false."
  value       = null
}

output "amp_remote_write_endpoint" {
  description = "AMP remote-write endpoint, or null when enable_amp is false."
  value       = null
}

output "grafana_workspace_endpoint" {
  description = "Managed Grafana workspace endpoint, or null when enable_grafana is false."
  value       = null
}

output "alarm_topic_arn" {
  description = "SNS topic that application alarms publish to (the foundation topic)."
  value       = var.alarm_topic_arn
}
