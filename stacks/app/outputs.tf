output "db_endpoint" {
  description = "Writer endpoint (host:port) of the RDS PostgreSQL instance."
  value       = module.rds.endpoint
}

output "db_host" {
  description = "Writer host name of the RDS PostgreSQL instance."
  value       = module.rds.address
}

output "db_port" {
  description = "Port of the RDS PostgreSQL instance."
  value       = module.rds.port
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
  description = "ARN of the RDS-managed Secrets Manager secret holding the master credentials (rotated by RDS)."
  value       = module.rds.master_user_secret_arn
}

output "db_resource_id" {
  description = "DbiResourceId of the instance, for rds-db:connect policies (IAM database authentication)."
  value       = module.rds.resource_id
}

output "db_security_group_id" {
  description = "Security group of the database (5432 open only to the cluster's security group)."
  value       = module.rds.security_group_id
}

output "db_replica_endpoint" {
  description = "Endpoint of the cross-region read replica, or null when db_cross_region_replica is false."
  value       = module.rds.replica_endpoint
}

output "ecr_registry" {
  description = "Registry host of this environment (<account>.dkr.ecr.<region>.amazonaws.com)."
  value       = module.ecr.registry
}

output "ecr_repository_urls" {
  description = "Map of service name to its ECR repository URL."
  value       = module.ecr.service_repository_urls
}

output "ecr_mirror_repository_urls" {
  description = "Map of every repository name (services and mirrors/*) to its URL."
  value       = module.ecr.repository_urls
}

output "amp_workspace_id" {
  description = "AMP workspace ID, or null when enable_amp is false."
  value       = module.observability.amp_workspace_id
}

output "amp_remote_write_endpoint" {
  description = "AMP remote-write endpoint, or null when enable_amp is false."
  value       = module.observability.amp_remote_write_endpoint
}

output "grafana_workspace_endpoint" {
  description = "Managed Grafana workspace endpoint, or null when enable_grafana is false."
  value       = module.observability.grafana_workspace_endpoint
}

output "log_group_names" {
  description = "Cluster log groups by kind (application, dataplane, host, performance)."
  value       = module.observability.log_group_names
}

output "adot_collector_role_arn" {
  description = "IRSA role of the ADOT collector (observability:adot-collector), or null when enable_amp is false."
  value       = module.observability.adot_collector_role_arn
}

output "fluent_bit_role_arn" {
  description = "IRSA role of Fluent Bit (observability:fluent-bit)."
  value       = module.observability.fluent_bit_role_arn
}

output "cloudwatch_agent_role_arn" {
  description = "IRSA role of the Container Insights add-on, or null when enable_container_insights is false."
  value       = module.observability.cloudwatch_agent_role_arn
}

output "velero_role_arn" {
  description = "IRSA role of Velero (velero:velero), limited to velero/<environment>/ in the artifacts bucket."
  value       = module.backup.role_arn
}

output "velero_bucket" {
  description = "Bucket of Velero's BackupStorageLocation."
  value       = module.backup.bucket
}

output "velero_prefix" {
  description = "Prefix of Velero's BackupStorageLocation."
  value       = module.backup.prefix
}

output "alarm_topic_arn" {
  description = "KMS-encrypted SNS topic the app alarms publish to (subscribed by alert_emails)."
  value       = module.alerts.topic_arn
}
