output "amp_workspace_id" {
  description = "AMP workspace ID, or null when enable_amp is false."
  value       = var.enable_amp ? aws_prometheus_workspace.this[0].id : null
}

output "amp_workspace_arn" {
  description = "AMP workspace ARN, or null."
  value       = var.enable_amp ? aws_prometheus_workspace.this[0].arn : null
}

output "amp_remote_write_endpoint" {
  description = "Prometheus remote-write URL of the workspace, or null."
  value       = var.enable_amp ? "${aws_prometheus_workspace.this[0].prometheus_endpoint}api/v1/remote_write" : null
}

output "grafana_workspace_endpoint" {
  description = "Managed Grafana endpoint, or null when enable_grafana is false."
  value       = var.enable_grafana ? aws_grafana_workspace.this[0].endpoint : null
}

output "log_group_names" {
  description = "Cluster log groups by kind (application, dataplane, host, performance)."
  value       = { for k, g in aws_cloudwatch_log_group.cluster : k => g.name }
}

output "adot_collector_role_arn" {
  description = "IRSA role of the ADOT collector (observability:adot-collector), or null when enable_amp is false."
  value       = var.enable_amp ? module.adot_role[0].role_arn : null
}

output "fluent_bit_role_arn" {
  description = "IRSA role of Fluent Bit (observability:fluent-bit)."
  value       = module.fluent_bit_role.role_arn
}

output "cloudwatch_agent_role_arn" {
  description = "IRSA role of the Container Insights add-on (amazon-cloudwatch:cloudwatch-agent), or null."
  value       = var.enable_container_insights ? module.cloudwatch_agent_role[0].role_arn : null
}

output "alarm_names" {
  description = "Names of every alarm created."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.db : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.db_replica_lag : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.alb_target_5xx : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.alb_latency : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.waf_blocked : a.alarm_name],
  )
}
