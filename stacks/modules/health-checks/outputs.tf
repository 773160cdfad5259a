output "health_check_ids" {
  description = "Route 53 health check IDs by endpoint name (usable in failover records)."
  value       = { for k, h in aws_route53_health_check.this : k => h.id }
}

output "alarm_names" {
  description = "Names of the health-check alarms (in us-east-1)."
  value       = [for a in aws_cloudwatch_metric_alarm.this : a.alarm_name]
}
