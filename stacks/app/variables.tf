# ---------------------------------------------------------------------------
# Identity and tagging
# ---------------------------------------------------------------------------

variable "project_name" {
  description = "Short project name used as a prefix for every resource name (lowercase letters, digits and hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.project_name))
    error_message = "project_name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name, as in ecomctl.yaml (for example nonprod); the environment named prod is production."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters and digits, starting with a letter (the one named \"prod\" is production)."
  }
}

variable "region" {
  description = "AWS region of this environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}

variable "owner" {
  description = "Team or person accountable for these resources; written to the Owner tag."
  type        = string

  validation {
    condition     = length(trimspace(var.owner)) > 0
    error_message = "owner must not be empty."
  }
}

variable "account_id" {
  description = "AWS account ID of this environment. The provider refuses to run against any other account."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be exactly 12 digits."
  }
}

variable "assume_role_arn" {
  description = "IAM role Terraform assumes in this environment's account. Null uses the caller's credentials as they are."
  type        = string
  default     = null

  validation {
    condition     = var.assume_role_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.assume_role_arn))
    error_message = "assume_role_arn must be an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>) or null."
  }
}

variable "tags" {
  description = "Extra tags added to every resource. Project, Environment, Owner, DataClassification, ManagedBy and Stage are always set by the stack."
  type        = map(string)
  default     = {}
}

variable "data_classification" {
  description = "Data classification written to the DataClassification tag."
  type        = string
  default     = "confidential"

  validation {
    condition     = contains(["public", "internal", "confidential", "restricted"], var.data_classification)
    error_message = "data_classification must be one of public, internal, confidential, restricted."
  }
}

# ---------------------------------------------------------------------------
# Foundation outputs consumed by this stack
# ---------------------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of this environment (foundation output vpc_id)."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "data_subnet_ids" {
  description = "Isolated data subnets for the RDS subnet group (foundation output data_subnet_ids)."
  type        = list(string)

  validation {
    condition     = length(var.data_subnet_ids) >= 2 && alltrue([for s in var.data_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", s))])
    error_message = "data_subnet_ids must list at least two subnet IDs (subnet-...) in different AZs."
  }
}

variable "node_security_group_id" {
  description = "Security group of the EKS nodes and pods, allowed to reach the database (foundation output node_security_group_id)."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]{8,17}$", var.node_security_group_id))
    error_message = "node_security_group_id must look like sg-0123456789abcdef0."
  }
}

variable "cluster_name" {
  description = "EKS cluster name (foundation output cluster_name), used for Container Insights and AMP scraping."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be a valid EKS cluster name."
  }
}

variable "oidc_provider_arn" {
  description = "IAM OIDC provider of the EKS cluster (foundation output oidc_provider_arn), trusted by the IRSA roles."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/.+$", var.oidc_provider_arn))
    error_message = "oidc_provider_arn must be an IAM OIDC provider ARN."
  }
}

variable "cluster_oidc_issuer_url" {
  description = "OIDC issuer URL of the EKS cluster (foundation output cluster_oidc_issuer_url)."
  type        = string

  validation {
    condition     = startswith(var.cluster_oidc_issuer_url, "https://")
    error_message = "cluster_oidc_issuer_url must start with https://."
  }
}

variable "alb_arn" {
  description = "Public ALB (foundation output alb_arn); the 5xx and latency alarms watch it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/app/.+$", var.alb_arn))
    error_message = "alb_arn must be an Application Load Balancer ARN."
  }
}

variable "waf_web_acl_arn" {
  description = "Regional WAFv2 web ACL of the ALB (foundation output waf_web_acl_arn); the blocked-request alarm watches it."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[^/]+/.+$", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be a regional WAFv2 web ACL ARN."
  }
}

# ---------------------------------------------------------------------------
# Bootstrap outputs consumed by this stack
# ---------------------------------------------------------------------------

variable "artifact_bucket_arn" {
  description = "Artifacts bucket in the shared-services account (bootstrap output artifact_bucket_arn); Velero backs up under velero/<environment>/."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.artifact_bucket_arn))
    error_message = "artifact_bucket_arn must be an S3 bucket ARN."
  }
}

variable "artifact_kms_key_arn" {
  description = "KMS key the artifacts bucket requires (bootstrap output kms_key_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.artifact_kms_key_arn))
    error_message = "artifact_kms_key_arn must be a KMS key ARN."
  }
}

# ---------------------------------------------------------------------------
# RDS PostgreSQL
# ---------------------------------------------------------------------------

variable "db_engine_version" {
  description = "PostgreSQL engine version, e.g. \"17.5\" or a major version such as \"17\"."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{2}(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be a PostgreSQL version such as \"17\" or \"17.5\"."
  }
}

variable "db_instance_class" {
  description = "RDS instance class, e.g. db.r7g.large."
  type        = string

  validation {
    condition     = can(regex("^db\\.[a-z0-9-]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must be an RDS instance class starting with \"db.\", e.g. db.r7g.large."
  }
}

variable "db_allocated_storage_gib" {
  description = "Initial allocated storage of the database, in GiB."
  type        = number

  validation {
    condition     = var.db_allocated_storage_gib >= 20 && var.db_allocated_storage_gib <= 65536 && floor(var.db_allocated_storage_gib) == var.db_allocated_storage_gib
    error_message = "db_allocated_storage_gib must be a whole number between 20 and 65536."
  }
}

variable "db_max_allocated_storage_gib" {
  description = "Upper bound for storage autoscaling, in GiB (at least db_allocated_storage_gib)."
  type        = number

  validation {
    condition     = var.db_max_allocated_storage_gib >= 20 && var.db_max_allocated_storage_gib <= 65536 && floor(var.db_max_allocated_storage_gib) == var.db_max_allocated_storage_gib
    error_message = "db_max_allocated_storage_gib must be a whole number between 20 and 65536."
  }
}

variable "db_multi_az" {
  description = "Run the database as a Multi-AZ deployment with a synchronous standby."
  type        = bool
}

variable "db_backup_retention_days" {
  description = "Days automated backups are kept."
  type        = number

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35 && floor(var.db_backup_retention_days) == var.db_backup_retention_days
    error_message = "db_backup_retention_days must be a whole number between 1 and 35."
  }
}

variable "db_deletion_protection" {
  description = "Turn on RDS deletion protection. Should be true in prod."
  type        = bool
}

variable "db_name" {
  description = "Name of the initial database."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a letter and contain only letters, digits and underscores (max 63)."
  }
}

variable "db_username" {
  description = "Master user name. Its password is generated and kept in Secrets Manager by RDS."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.db_username)) && !contains(["admin", "postgres", "rdsadmin", "root", "user"], lower(var.db_username))
    error_message = "db_username must start with a letter, contain only letters, digits and underscores, and not be a reserved name (admin, postgres, rdsadmin, root, user)."
  }
}

variable "db_cross_region_replica" {
  description = "Create a cross-region read replica in dr_region for disaster recovery."
  type        = bool
}

variable "db_monitoring_interval" {
  description = "Enhanced monitoring interval of the database, in seconds."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 5, 10, 15, 30, 60], var.db_monitoring_interval)
    error_message = "db_monitoring_interval must be one of 1, 5, 10, 15, 30, 60."
  }
}

variable "db_performance_insights_retention_days" {
  description = "Performance Insights retention: 7 (free tier) or a multiple of 31 up to 731."
  type        = number
  default     = 7

  validation {
    condition     = var.db_performance_insights_retention_days == 7 || (var.db_performance_insights_retention_days % 31 == 0 && var.db_performance_insights_retention_days <= 731) || var.db_performance_insights_retention_days == 731
    error_message = "db_performance_insights_retention_days must be 7, a multiple of 31, or 731."
  }
}

variable "dr_db_subnet_group_name" {
  description = "DB subnet group in dr_region for the cross-region replica. Null uses that region's default VPC (the replica is never publicly accessible)."
  type        = string
  default     = null
}

variable "dr_region" {
  description = "Disaster-recovery region for the cross-region replica. Required when db_cross_region_replica is true."
  type        = string
  default     = null

  validation {
    condition     = var.dr_region == null ? true : can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.dr_region))
    error_message = "dr_region must be an AWS region code such as us-west-2, or null."
  }
}

# ---------------------------------------------------------------------------
# ECR and observability
# ---------------------------------------------------------------------------

variable "ecr_repositories" {
  description = "Services that get an ECR repository <project_name>/<service> (immutable tags, scan on push, KMS-encrypted), e.g. frontend."
  type        = list(string)

  validation {
    condition     = length(var.ecr_repositories) == length(distinct(var.ecr_repositories)) && alltrue([for r in var.ecr_repositories : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", r))])
    error_message = "ecr_repositories must be distinct, valid ECR repository names (lowercase letters, digits, '.', '_', '-', '/')."
  }
}

variable "ecr_mirror_repositories" {
  description = "Repositories (created as mirrors/<name>) for mirrored base and add-on images; same settings as the service repositories."
  type        = list(string)
  default = [
    "debian",
    "aws-load-balancer-controller",
    "tigera/operator",
    "calico/cni",
    "calico/csi",
    "calico/kube-controllers",
    "calico/node",
    "calico/node-driver-registrar",
    "calico/pod2daemon-flexvol",
    "calico/typha",
    "aws-observability/aws-otel-collector",
    "aws-for-fluent-bit",
    "velero/velero",
    "velero/velero-plugin-for-aws",
  ]

  validation {
    condition     = length(var.ecr_mirror_repositories) == length(distinct(var.ecr_mirror_repositories)) && alltrue([for r in var.ecr_mirror_repositories : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", r))])
    error_message = "ecr_mirror_repositories must be distinct repository paths (lowercase, '/' separated)."
  }
}

variable "ecr_pull_role_arns" {
  description = "Roles of other accounts (prod's app deployer, for nonprod) allowed to pull images by digest for promotion. They need not exist yet."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.ecr_pull_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "ecr_pull_role_arns must contain only IAM role ARNs."
  }
}

variable "enable_amp" {
  description = "Create an Amazon Managed Service for Prometheus workspace."
  type        = bool
}

variable "enable_grafana" {
  description = "Create an Amazon Managed Grafana workspace reading from AMP and CloudWatch."
  type        = bool
}

variable "enable_container_insights" {
  description = "Install the CloudWatch Observability EKS add-on (Container Insights) on the cluster."
  type        = bool
}

variable "log_retention_days" {
  description = "Retention of the stack's CloudWatch log groups (RDS exports, Container Insights). Must be a value CloudWatch accepts."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "alert_emails" {
  description = "Email addresses subscribed to the app stack's KMS-encrypted alert topic (RDS, ALB, WAF alarms)."
  type        = list(string)

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must contain only email addresses."
  }
}
