resource "aws_route53_health_check" "this" {
  for_each = var.endpoints

  fqdn              = var.domain_name
  port              = 443
  type              = "HTTPS"
  resource_path     = each.value
  enable_sni        = true
  failure_threshold = var.failure_threshold
  request_interval  = 30
  measure_latency   = true
  tags              = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# Health-check metrics are published in us-east-1 only.
resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = var.endpoints
  provider = aws.us_east_1

  alarm_name          = "${var.name}-${each.key}-unhealthy"
  alarm_description   = "https://${var.domain_name}${each.value} failed Route 53 health checks from most checker regions."
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  statistic           = "Minimum"
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  period              = 60
  evaluation_periods  = 3
  treat_missing_data  = "breaching"
  dimensions          = { HealthCheckId = aws_route53_health_check.this[each.key].id }
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}
