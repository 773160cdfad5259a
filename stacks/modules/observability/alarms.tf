# Alarms to the KMS-encrypted topic. Each is created only when the thing it
# watches was given.

locals {
  alb_suffix   = var.alb_arn == null ? null : regex("loadbalancer/(.+)$", var.alb_arn)[0]
  waf_acl_name = var.waf_web_acl_arn == null ? null : regex("webacl/([^/]+)/", var.waf_web_acl_arn)[0]
  db           = var.db_instance_identifier == null ? {} : { db = var.db_instance_identifier }
  alb          = var.alb_arn == null ? {} : { alb = local.alb_suffix }
  waf          = var.waf_web_acl_arn == null ? {} : { waf = local.waf_acl_name }

  db_alarms = {
    cpu = {
      metric     = "CPUUtilization"
      statistic  = "Average"
      comparison = "GreaterThanThreshold"
      threshold  = 80
      what       = "CPU above 80 % for 15 minutes"
    }
    free-storage = {
      metric     = "FreeStorageSpace"
      statistic  = "Minimum"
      comparison = "LessThanThreshold"
      threshold  = floor(var.db_allocated_storage_gib * 1073741824 / 10)
      what       = "free storage below 10 % of the allocated size"
    }
    connections = {
      metric     = "DatabaseConnections"
      statistic  = "Maximum"
      comparison = "GreaterThanThreshold"
      threshold  = var.db_max_connections_alarm
      what       = "more than ${var.db_max_connections_alarm} connections"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "db" {
  for_each = { for k, v in local.db_alarms : k => v if var.db_instance_identifier != null }

  alarm_name          = "${var.name}-db-${each.key}"
  alarm_description   = "RDS ${var.db_instance_identifier}: ${each.value.what}."
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  period              = 300
  evaluation_periods  = 3
  treat_missing_data  = "missing"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

# The cross-region replica reads through a replication slot on the primary: a
# growing slot lag is replica lag seen from the primary's region.
resource "aws_cloudwatch_metric_alarm" "db_replica_lag" {
  for_each = var.db_has_replica ? local.db : {}

  alarm_name          = "${var.name}-db-replica-lag"
  alarm_description   = "RDS ${each.value}: the cross-region replica is more than 1 GiB of WAL behind."
  namespace           = "AWS/RDS"
  metric_name         = "OldestReplicationSlotLag"
  statistic           = "Maximum"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 1073741824
  period              = 300
  evaluation_periods  = 3
  treat_missing_data  = "breaching"
  dimensions          = { DBInstanceIdentifier = each.value }
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_target_5xx" {
  for_each = local.alb

  alarm_name          = "${var.name}-alb-target-5xx"
  alarm_description   = "Services answered more than 50 5xx responses in 5 minutes, twice."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  statistic           = "Sum"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 50
  period              = 300
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  dimensions          = { LoadBalancer = each.value }
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alb_latency" {
  for_each = local.alb

  alarm_name          = "${var.name}-alb-latency-p99"
  alarm_description   = "p99 target response time above ${var.alb_latency_p99_seconds} s for 15 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  extended_statistic  = "p99"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_latency_p99_seconds
  period              = 300
  evaluation_periods  = 3
  treat_missing_data  = "notBreaching"
  dimensions          = { LoadBalancer = each.value }
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "waf_blocked" {
  for_each = local.waf

  alarm_name          = "${var.name}-waf-blocked-spike"
  alarm_description   = "WAF ${each.value} blocked more than ${var.waf_blocked_requests_alarm} requests in 5 minutes: an attack or a rule blocking real customers."
  namespace           = "AWS/WAFV2"
  metric_name         = "BlockedRequests"
  statistic           = "Sum"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.waf_blocked_requests_alarm
  period              = 300
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  dimensions          = { WebACL = each.value, Region = var.region, Rule = "ALL" }
  alarm_actions       = [var.alarm_topic_arn]
  ok_actions          = [var.alarm_topic_arn]
  tags                = var.tags
}
