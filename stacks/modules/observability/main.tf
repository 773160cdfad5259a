data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  # Container Insights and Fluent Bit write to these; created here so they are
  # encrypted and expire, instead of being created on first write.
  log_groups = {
    application = "/aws/containerinsights/${var.cluster_name}/application"
    dataplane   = "/aws/containerinsights/${var.cluster_name}/dataplane"
    host        = "/aws/containerinsights/${var.cluster_name}/host"
    performance = "/aws/containerinsights/${var.cluster_name}/performance"
  }
  log_group_arns = [for g in aws_cloudwatch_log_group.cluster : g.arn]
}

resource "aws_cloudwatch_log_group" "cluster" {
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

# --- Amazon Managed Service for Prometheus ----------------------------------

resource "aws_cloudwatch_log_group" "amp" {
  count = var.enable_amp ? 1 : 0

  name              = "/aws/prometheus/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.logs_kms_key_arn
  tags              = var.tags
}

resource "aws_prometheus_workspace" "this" {
  count = var.enable_amp ? 1 : 0

  alias       = var.name
  kms_key_arn = var.logs_kms_key_arn

  logging_configuration {
    log_group_arn = "${aws_cloudwatch_log_group.amp[0].arn}:*"
  }

  tags = var.tags
}

data "aws_iam_policy_document" "adot" {
  count = var.enable_amp ? 1 : 0

  statement {
    sid       = "RemoteWrite"
    actions   = ["aps:RemoteWrite"]
    resources = [aws_prometheus_workspace.this[0].arn]
  }

  statement {
    sid = "Traces"
    actions = [
      "xray:PutTelemetryRecords",
      "xray:PutTraceSegments",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"] # X-Ray has no resource-level permissions for these calls.
  }
}

module "adot_role" {
  source = "../irsa-role"
  count  = var.enable_amp ? 1 : 0

  name              = "${var.name}-adot-collector"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  service_accounts  = ["observability:adot-collector"]
  policy_json       = data.aws_iam_policy_document.adot[0].json
  tags              = var.tags
}

# --- Fluent Bit ----------------------------------------------------------------

data "aws_iam_policy_document" "fluent_bit" {
  statement {
    sid       = "WriteClusterLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [for a in local.log_group_arns : "${a}:*"]
  }
}

module "fluent_bit_role" {
  source = "../irsa-role"

  name              = "${var.name}-fluent-bit"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  service_accounts  = ["observability:fluent-bit"]
  policy_json       = data.aws_iam_policy_document.fluent_bit.json
  tags              = var.tags
}

# --- Container Insights ---------------------------------------------------------

module "cloudwatch_agent_role" {
  source = "../irsa-role"
  count  = var.enable_container_insights ? 1 : 0

  name              = "${var.name}-cloudwatch-agent"
  oidc_provider_arn = var.oidc_provider_arn
  oidc_issuer_url   = var.oidc_issuer_url
  service_accounts  = ["amazon-cloudwatch:cloudwatch-agent"]
  policy_json       = data.aws_iam_policy_document.fluent_bit.json
  managed_policy_arns = [
    "arn:${local.partition}:iam::aws:policy/CloudWatchAgentServerPolicy",
  ]
  tags = var.tags
}

resource "aws_eks_addon" "container_insights" {
  count = var.enable_container_insights ? 1 : 0

  cluster_name                = var.cluster_name
  addon_name                  = "amazon-cloudwatch-observability"
  service_account_role_arn    = module.cloudwatch_agent_role[0].role_arn
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"
  tags                        = var.tags

  depends_on = [aws_cloudwatch_log_group.cluster]
}

# --- Managed Grafana ------------------------------------------------------------

data "aws_iam_policy_document" "grafana_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["grafana.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "grafana" {
  statement {
    sid = "QueryPrometheus"
    actions = [
      "aps:DescribeWorkspace",
      "aps:GetLabels",
      "aps:GetMetricMetadata",
      "aps:GetSeries",
      "aps:QueryMetrics",
    ]
    resources = var.enable_amp ? [aws_prometheus_workspace.this[0].arn] : ["arn:${local.partition}:aps:${var.region}:${local.account_id}:workspace/*"]
  }

  statement {
    sid = "ReadMetrics"
    actions = [
      "cloudwatch:GetMetricData",
      "cloudwatch:ListMetrics",
    ]
    resources = ["*"] # Metric reads have no resource-level permissions.
  }

  statement {
    sid       = "ReadAlarms"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = ["arn:${local.partition}:cloudwatch:${var.region}:${local.account_id}:alarm:*"]
  }

  statement {
    sid = "QueryLogs"
    actions = [
      "logs:DescribeLogGroups",
      "logs:GetQueryResults",
      "logs:StartQuery",
      "logs:StopQuery",
    ]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
  }
}

resource "aws_iam_role" "grafana" {
  count = var.enable_grafana ? 1 : 0

  name               = "${var.name}-grafana"
  assume_role_policy = data.aws_iam_policy_document.grafana_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "grafana" {
  count = var.enable_grafana ? 1 : 0

  name   = "read-metrics"
  role   = aws_iam_role.grafana[0].id
  policy = data.aws_iam_policy_document.grafana.json
}

resource "aws_grafana_workspace" "this" {
  count = var.enable_grafana ? 1 : 0

  name                     = var.name
  description              = "${var.name}: dashboards over AMP and CloudWatch"
  account_access_type      = "CURRENT_ACCOUNT"
  authentication_providers = ["AWS_SSO"]
  permission_type          = "CUSTOMER_MANAGED"
  role_arn                 = aws_iam_role.grafana[0].arn
  data_sources             = ["PROMETHEUS", "CLOUDWATCH"]
  tags                     = var.tags
}
