# EKS: secrets envelope encryption, all control-plane log types, restricted public endpoint.
package terraform.eks

import rego.v1

clusters := data.terraform.lib.of_type("aws_eks_cluster")

required_log_types := {"api", "audit", "authenticator", "controllerManager", "scheduler"}

encrypts_secrets(r) if {
	some c in data.terraform.lib.list(r.values.encryption_config)
	"secrets" in c.resources
}

# METADATA
# title: EKS encrypts Kubernetes secrets with KMS
# scope: rule
# custom:
#   id: ECOM-TF-EKS-001
#   severity: high
#   controls:
#     pci_dss: ["3.5.1", "8.3.2"]
#     soc2: ["CC6.1", "CC6.7"]
#   remediation: Add encryption_config { resources = ["secrets"], provider { key_arn = <key arn> } }.
deny contains finding if {
	some r in clusters
	not encrypts_secrets(r)
	finding := {
		"id": "ECOM-TF-EKS-001",
		"msg": sprintf("EKS cluster %s does not encrypt secrets with KMS", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: EKS control-plane logging is fully enabled
# scope: rule
# custom:
#   id: ECOM-TF-EKS-002
#   severity: medium
#   controls:
#     pci_dss: ["10.2.1", "10.2.2"]
#     soc2: ["CC7.2"]
#   remediation: Set enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"].
deny contains finding if {
	some r in clusters
	enabled := {t | some t in data.terraform.lib.list(object.get(r.values, "enabled_cluster_log_types", []))}
	missing := required_log_types - enabled
	count(missing) > 0
	finding := {
		"id": "ECOM-TF-EKS-002",
		"msg": sprintf("EKS cluster %s does not log %v", [r.address, sort(missing)]),
		"resource": r.address,
	}
}

world_open(vpc) if count(data.terraform.lib.list(object.get(vpc, "public_access_cidrs", []))) == 0

world_open(vpc) if {
	some c in data.terraform.lib.list(vpc.public_access_cidrs)
	c in {"0.0.0.0/0", "::/0"}
}

# METADATA
# title: EKS API endpoint is private or restricted to known CIDRs
# scope: rule
# custom:
#   id: ECOM-TF-EKS-003
#   severity: high
#   controls:
#     pci_dss: ["1.3.1", "1.4.1"]
#     soc2: ["CC6.6"]
#   remediation: Set endpoint_public_access = false, or keep it true only with public_access_cidrs listing the operators' and CI's egress ranges.
deny contains finding if {
	some r in clusters
	some vpc in data.terraform.lib.list(r.values.vpc_config)
	vpc.endpoint_public_access == true
	world_open(vpc)
	finding := {
		"id": "ECOM-TF-EKS-003",
		"msg": sprintf("EKS cluster %s exposes its API endpoint to the whole internet", [r.address]),
		"resource": r.address,
	}
}
