output "instance_identifier" {
  description = "RDS instance identifier (the DBInstanceIdentifier alarm dimension)."
  value       = aws_db_instance.this.identifier
}

output "instance_arn" {
  description = "ARN of the primary instance."
  value       = aws_db_instance.this.arn
}

output "endpoint" {
  description = "Writer endpoint as host:port."
  value       = aws_db_instance.this.endpoint
}

output "address" {
  description = "Writer host name."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "resource_id" {
  description = "DbiResourceId, used in rds-db:connect IAM policies for IAM database authentication."
  value       = aws_db_instance.this.resource_id
}

output "master_user_secret_arn" {
  description = "ARN of the RDS-managed Secrets Manager secret holding the master credentials (rotated by RDS)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}

output "log_group_names" {
  description = "CloudWatch log groups the instance exports to."
  value       = [for g in aws_cloudwatch_log_group.exports : g.name]
}

output "replica_endpoint" {
  description = "Endpoint of the cross-region read replica, or null."
  value       = var.cross_region_replica ? aws_db_instance.replica[0].endpoint : null
}

output "replica_arn" {
  description = "ARN of the cross-region read replica, or null."
  value       = var.cross_region_replica ? aws_db_instance.replica[0].arn : null
}
