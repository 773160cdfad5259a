output "trail_arn" {
  description = "ARN of the multi-region trail."
  value       = aws_cloudtrail.this.arn
}

output "trail_log_group_name" {
  description = "CloudWatch log group receiving the trail."
  value       = aws_cloudwatch_log_group.trail.name
}

output "guardduty_detector_id" {
  description = "GuardDuty detector ID."
  value       = aws_guardduty_detector.this.id
}

output "config_recorder_name" {
  description = "AWS Config recorder name."
  value       = aws_config_configuration_recorder.this.name
}

output "conformance_pack_names" {
  description = "Deployed conformance packs."
  value       = [for p in aws_config_conformance_pack.this : p.name]
}

output "access_analyzer_arn" {
  description = "ARN of the account's IAM Access Analyzer."
  value       = aws_accessanalyzer_analyzer.this.arn
}
