variable "name" {
  description = "Name prefix for the VPC and everything in it, e.g. shop-prod."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC; must be a /16."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && endswith(var.vpc_cidr, "/16")
    error_message = "vpc_cidr must be a /16."
  }
}

variable "az_count" {
  description = "Number of availability zones (2 or 3)."
  type        = number
  default     = 3

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "az_count must be 2 or 3."
  }
}

variable "availability_zones" {
  description = "Zone names subnets may use. Null means <region>a to <region>f; the first az_count available ones (alphabetically) are used. The set is closed, so a newly launched zone never shifts the subnets."
  type        = list(string)
  default     = null
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway instead of one per AZ (cheaper, not AZ-resilient)."
  type        = bool
  default     = false
}

variable "transit_gateway_id" {
  description = "Transit Gateway to attach the app subnets to; null for none."
  type        = string
  default     = null
}

variable "transit_gateway_routes" {
  description = "Destination CIDRs routed from the app and data subnets to the Transit Gateway (ignored without transit_gateway_id)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.transit_gateway_routes : can(cidrhost(c, 0))])
    error_message = "transit_gateway_routes must contain only valid IPv4 CIDRs."
  }
}

variable "interface_endpoints" {
  description = "Services reached through interface VPC endpoints (the part after com.amazonaws.<region>.)."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager", "ssm", "kms", "ec2", "elasticloadbalancing", "autoscaling"]
}

variable "data_tier_ports" {
  description = "TCP ports the app tier may open to the data tier through its network ACL."
  type        = list(number)
  default     = [5432]

  validation {
    condition     = alltrue([for p in var.data_tier_ports : p >= 1 && p <= 65535])
    error_message = "data_tier_ports must be valid TCP ports."
  }
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group, in days (a CloudWatch-allowed value)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch-allowed retention value."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key that encrypts the flow log group. Its policy must allow the CloudWatch Logs service principal."
  type        = string
}

variable "public_subnet_tags" {
  description = "Extra tags for the public subnets (e.g. kubernetes.io/role/elb)."
  type        = map(string)
  default     = {}
}

variable "app_subnet_tags" {
  description = "Extra tags for the app subnets (e.g. karpenter.sh/discovery, kubernetes.io/role/internal-elb)."
  type        = map(string)
  default     = {}
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
