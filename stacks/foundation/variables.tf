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
  description = "Environment name, as in ecomctl.yaml (for example nonprod). The one named prod gets the stricter defaults (NAT per AZ, required MFA, deletion protection)."
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
# Network
# ---------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC; must be a /16. Public, app and data subnets are carved from it with cidrsubnet."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && endswith(var.vpc_cidr, "/16") && cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0]
    error_message = "vpc_cidr must be a /16 network address such as 10.20.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets (and, in prod, NAT gateways) across."
  type        = number

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3."
  }
}

variable "single_nat_gateway" {
  description = "Use one shared NAT gateway instead of one per AZ. Cheaper, but an AZ outage cuts egress for the others; meant for nonprod."
  type        = bool
}

variable "transit_gateway_id" {
  description = "Transit Gateway to attach the VPC's app subnets to. Null skips the attachment."
  type        = string
  default     = null

  validation {
    condition     = var.transit_gateway_id == null ? true : can(regex("^tgw-[0-9a-f]{8,17}$", var.transit_gateway_id))
    error_message = "transit_gateway_id must look like tgw-0123456789abcdef0 or be null."
  }
}

# ---------------------------------------------------------------------------
# DNS and TLS
# ---------------------------------------------------------------------------

variable "root_domain" {
  description = "Public DNS domain of the shop, e.g. shop.example.com. The certificate covers it and *.root_domain."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.root_domain))
    error_message = "root_domain must be a lowercase DNS name such as shop.example.com (no trailing dot)."
  }
}

variable "create_hosted_zone" {
  description = "Create a public Route53 hosted zone for root_domain. False reuses the zone given in hosted_zone_id."
  type        = bool
}

variable "hosted_zone_id" {
  description = "Existing Route53 hosted zone for root_domain, used when create_hosted_zone is false."
  type        = string
  default     = null

  validation {
    condition     = var.hosted_zone_id == null ? true : can(regex("^Z[A-Z0-9]{1,31}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be a Route53 zone ID such as Z0123456789ABCDEFGHIJ, or null."
  }
}

# ---------------------------------------------------------------------------
# EKS
# ---------------------------------------------------------------------------

variable "eks_version" {
  description = "Kubernetes minor version of the EKS control plane, e.g. \"1.33\"."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.eks_version))
    error_message = "eks_version must be a Kubernetes minor version such as \"1.33\"."
  }
}

variable "network_policy_engine" {
  description = "What enforces NetworkPolicies: vpc-cni (the VPC CNI add-on's network policy agent) or calico (installed by the cluster stage; the add-on's agent stays off)."
  type        = string
  default     = "vpc-cni"

  validation {
    condition     = contains(["vpc-cni", "calico"], var.network_policy_engine)
    error_message = "network_policy_engine must be vpc-cni or calico."
  }
}

variable "eks_public_access_cidrs" {
  description = "CIDRs allowed to reach the EKS API's public endpoint. An empty list makes the endpoint private only."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.eks_public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "eks_public_access_cidrs must contain only valid IPv4 CIDRs."
  }

  validation {
    condition     = !contains(var.eks_public_access_cidrs, "0.0.0.0/0")
    error_message = "eks_public_access_cidrs must not contain 0.0.0.0/0; list the operator and CI egress ranges instead."
  }
}

variable "node_groups" {
  description = "EKS managed node groups keyed by name. All run Bottlerocket; architecture picks the AMI family (arm64 = Graviton)."
  type = map(object({
    architecture   = string
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = number
    capacity_type  = string
  }))

  validation {
    condition     = length(var.node_groups) > 0
    error_message = "node_groups must define at least one node group."
  }

  validation {
    condition     = alltrue([for k, ng in var.node_groups : can(regex("^[a-z0-9][a-z0-9-]{0,38}$", k))])
    error_message = "node_groups keys must be 1-39 characters of lowercase letters, digits and hyphens."
  }

  validation {
    condition     = alltrue([for ng in values(var.node_groups) : contains(["arm64", "x86_64"], ng.architecture)])
    error_message = "node_groups[*].architecture must be \"arm64\" or \"x86_64\"."
  }

  validation {
    condition     = alltrue([for ng in values(var.node_groups) : contains(["ON_DEMAND", "SPOT"], ng.capacity_type)])
    error_message = "node_groups[*].capacity_type must be \"ON_DEMAND\" or \"SPOT\"."
  }

  validation {
    condition     = alltrue([for ng in values(var.node_groups) : length(ng.instance_types) > 0])
    error_message = "node_groups[*].instance_types must list at least one instance type."
  }

  validation {
    condition     = alltrue([for ng in values(var.node_groups) : ng.min_size >= 0 && ng.min_size <= ng.desired_size && ng.desired_size <= ng.max_size && ng.max_size >= 1])
    error_message = "node_groups[*] must satisfy 0 <= min_size <= desired_size <= max_size and max_size >= 1."
  }

  validation {
    condition     = alltrue([for ng in values(var.node_groups) : ng.disk_size_gib >= 20 && ng.disk_size_gib <= 16384])
    error_message = "node_groups[*].disk_size_gib must be between 20 and 16384."
  }
}

variable "fargate_profiles" {
  description = "EKS Fargate profiles keyed by name, for system workloads. Each selects pods by namespace and optional labels."
  type = map(object({
    namespaces = list(string)
    labels     = map(string)
  }))

  validation {
    condition     = alltrue([for p in values(var.fargate_profiles) : length(p.namespaces) > 0 && length(p.namespaces) <= 5])
    error_message = "fargate_profiles[*].namespaces must list 1-5 namespaces (EKS allows at most 5 selectors per profile)."
  }

  validation {
    condition     = alltrue(flatten([for p in values(var.fargate_profiles) : [for ns in p.namespaces : can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", ns))]]))
    error_message = "fargate_profiles[*].namespaces must be valid Kubernetes namespace names."
  }
}

# ---------------------------------------------------------------------------
# GitHub OIDC and IAM
# ---------------------------------------------------------------------------

variable "github_repositories" {
  description = "GitHub repositories (\"org/repo\") whose workflows may assume the Terraform and deployer roles."
  type        = list(string)

  validation {
    condition     = length(var.github_repositories) > 0 && alltrue([for r in var.github_repositories : can(regex("^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9_.-]{1,100}$", r))])
    error_message = "github_repositories must contain at least one \"org/repo\" entry."
  }
}

variable "github_branches" {
  description = "Branches whose workflow runs may assume the roles (pinned in the token's sub claim)."
  type        = list(string)
  default     = ["main"]

  validation {
    condition     = alltrue([for b in var.github_branches : length(b) > 0 && !can(regex("[*?\\s]", b))])
    error_message = "github_branches must be literal branch names (no wildcards or whitespace)."
  }
}

variable "github_environments" {
  description = "GitHub deployment environments whose jobs may assume the roles (pinned in the token's sub claim)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.github_environments : length(e) > 0 && !can(regex("[*?\\s]", e))])
    error_message = "github_environments must be literal environment names (no wildcards or whitespace)."
  }
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub Actions OIDC provider. False reuses github_oidc_provider_arn (there can be only one per account)."
  type        = bool
}

variable "github_oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com OIDC provider, used when create_github_oidc_provider is false."
  type        = string
  default     = null

  validation {
    condition     = var.github_oidc_provider_arn == null ? true : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/token\\.actions\\.githubusercontent\\.com$", var.github_oidc_provider_arn))
    error_message = "github_oidc_provider_arn must be arn:aws:iam::<12 digits>:oidc-provider/token.actions.githubusercontent.com, or null."
  }
}

# ---------------------------------------------------------------------------
# Cognito
# ---------------------------------------------------------------------------

variable "cognito_domain_prefix" {
  description = "Prefix of the Cognito hosted UI domain (<prefix>.auth.<region>.amazoncognito.com). Must be unique in the region."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.cognito_domain_prefix)) && !can(regex("aws|amazon|cognito", var.cognito_domain_prefix))
    error_message = "cognito_domain_prefix must be 1-63 lowercase letters, digits and hyphens and must not contain aws, amazon or cognito."
  }
}

variable "dummy_user_email" {
  description = "Email of a smoke-test user created in the user pool. Null (or a null dummy_user_temp_password) creates no user."
  type        = string
  default     = null

  validation {
    condition     = var.dummy_user_email == null ? true : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.dummy_user_email))
    error_message = "dummy_user_email must be an email address or null."
  }
}

variable "dummy_user_temp_password" {
  description = "Temporary password of the smoke-test user. Pass it as TF_VAR_dummy_user_temp_password from the environment, never in a tfvars file. Null creates no user."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.dummy_user_temp_password == null ? true : length(var.dummy_user_temp_password) >= 14
    error_message = "dummy_user_temp_password must be at least 14 characters (the pool's password policy) or null."
  }
}

# ---------------------------------------------------------------------------
# Edge, alarms, lifecycle
# ---------------------------------------------------------------------------

variable "alert_emails" {
  description = "Email addresses subscribed to the foundational alarm topic."
  type        = list(string)

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must contain only email addresses."
  }
}

variable "waf_rate_limit" {
  description = "Requests allowed per client IP per 5-minute window before the WAF rate-based rule blocks it."
  type        = number

  validation {
    condition     = var.waf_rate_limit >= 100 && var.waf_rate_limit <= 2000000000 && floor(var.waf_rate_limit) == var.waf_rate_limit
    error_message = "waf_rate_limit must be a whole number between 100 and 2000000000."
  }
}

variable "public_services" {
  description = "Services exposed through the ALB; each gets an IP target group exported in ingress_target_group_arns."
  type        = list(string)
  default     = ["frontend", "login", "catalog", "orders", "payments"]

  validation {
    condition     = length(var.public_services) > 0 && length(var.public_services) == length(distinct(var.public_services)) && alltrue([for s in var.public_services : can(regex("^[a-z][a-z0-9-]{0,19}$", s))])
    error_message = "public_services must be a non-empty list of distinct names of 1-20 lowercase letters, digits and hyphens."
  }
}

variable "deletion_protection" {
  description = "Turn on deletion protection for the ALB and the Cognito user pool. Should be true in prod."
  type        = bool
}

variable "log_retention_days" {
  description = "Retention of the stack's CloudWatch log groups (VPC flow logs, EKS control plane, WAF). Must be a value CloudWatch accepts."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

# ---------------------------------------------------------------------------
# Account guardrails baseline (modules/baseline) and health checks
# ---------------------------------------------------------------------------

variable "audit_bucket_name" {
  description = "Central audit log bucket in the shared-services account (bootstrap output audit_bucket_name); this account's CloudTrail and AWS Config deliver to it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.audit_bucket_name))
    error_message = "audit_bucket_name must be a valid S3 bucket name."
  }
}

variable "audit_kms_key_arn" {
  description = "KMS key of the audit bucket (bootstrap output audit_kms_key_arn)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.audit_kms_key_arn))
    error_message = "audit_kms_key_arn must be a KMS key ARN."
  }
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of this account in USD; alert_emails hear at 80 % actual and 100 % forecast spend."
  type        = number
  default     = 1000

  validation {
    condition     = var.monthly_budget_usd > 0
    error_message = "monthly_budget_usd must be positive."
  }
}

variable "enable_macie" {
  description = "Enable Amazon Macie in this account."
  type        = bool
  default     = true
}

variable "enable_detective" {
  description = "Enable Amazon Detective in this account."
  type        = bool
  default     = true
}

variable "health_check_endpoints" {
  description = "Route 53 health checks over HTTPS on root_domain: name => path. Each has an alarm (in us-east-1) to alert_emails."
  type        = map(string)
  default = {
    storefront = "/healthz"
    api        = "/.well-known/jwks.json"
  }

  validation {
    condition     = alltrue([for p in values(var.health_check_endpoints) : startswith(p, "/")])
    error_message = "health_check_endpoints must map names to absolute paths."
  }
}
