output "alb_arn" {
  description = "ARN of the ALB."
  value       = aws_lb.this.arn
}

output "alb_dns_name" {
  description = "DNS name of the ALB."
  value       = aws_lb.this.dns_name
}

output "alb_security_group_id" {
  description = "Security group of the ALB (allow it to the service port on the node security group)."
  value       = aws_security_group.alb.id
}

output "target_group_arns" {
  description = "Map of service name to IP target group ARN, for TargetGroupBinding."
  value       = { for s, tg in aws_lb_target_group.service : s => tg.arn }
}

output "web_acl_arn" {
  description = "ARN of the WAFv2 web ACL."
  value       = aws_wafv2_web_acl.this.arn
}
