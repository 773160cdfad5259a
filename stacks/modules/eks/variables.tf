variable "cluster_name" {
  description = "Name of the EKS cluster."
  type        = string

  validation {
    condition     = can(regex("^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$", var.cluster_name))
    error_message = "cluster_name must be 1-100 characters of letters, digits, '-' and '_', starting with a letter or digit."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes minor version, e.g. \"1.33\"."
  type        = string

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like \"1.33\"."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the control-plane ENIs, nodes and Fargate pods."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two subnets in different AZs."
  }
}

variable "public_access_cidrs" {
  description = "CIDRs allowed to reach the public API endpoint. Empty makes the endpoint private only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_access_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "public_access_cidrs must be valid IPv4 CIDRs other than 0.0.0.0/0."
  }
}

variable "node_groups" {
  description = "Managed node groups (Bottlerocket) keyed by name."
  type = map(object({
    architecture   = string
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
    disk_size_gib  = number
    capacity_type  = string
  }))
  default = {}

  validation {
    condition     = alltrue([for ng in values(var.node_groups) : contains(["arm64", "x86_64"], ng.architecture) && contains(["ON_DEMAND", "SPOT"], ng.capacity_type)])
    error_message = "node_groups[*].architecture must be arm64 or x86_64 and capacity_type ON_DEMAND or SPOT."
  }
}

variable "require_arm64" {
  description = "Refuse node groups that are not arm64 (Graviton). Set for prod."
  type        = bool
  default     = false
}

variable "fargate_profiles" {
  description = "Fargate profiles keyed by name, each selecting pods by namespace and labels."
  type = map(object({
    namespaces = list(string)
    labels     = map(string)
  }))
  default = {}
}

variable "cluster_admin_principal_arns" {
  description = "IAM principals given cluster-admin access entries, keyed by a static label (e.g. { deployer = <role arn> })."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of the control-plane log group, in days (a CloudWatch-allowed value)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch-allowed retention value."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key that encrypts the control-plane log group."
  type        = string
}

variable "addon_versions" {
  description = "Pinned versions of the managed add-ons (vpc-cni, kube-proxy, coredns, aws-ebs-csi-driver). Missing entries use the default for the cluster version."
  type        = map(string)
  default     = {}
}

variable "enable_network_policy" {
  description = "Turn on the VPC CNI add-on's network policy agent (enableNetworkPolicy), so the cluster enforces NetworkPolicies without another engine. Off when Calico enforces them."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource (merged with the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "region" {
  description = "AWS region the module's provider targets; used in ARNs, endpoint service names and domain names (passed in rather than read from data.aws_region, whose attribute names differ between provider 5.x and 6.x)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1."
  }
}
