# Load balancers: every internet-facing ALB is protected by AWS WAF.
package terraform.alb

import rego.v1

public_albs := [lb |
	some lb in array.concat(data.terraform.lib.of_type("aws_lb"), data.terraform.lib.of_type("aws_alb"))
	object.get(lb.values, "load_balancer_type", "application") in {"application", null}
	not lb.values.internal == true
]

# Keys (see terraform.lib) of everything a web ACL association points at.
protected := {k |
	some a in data.terraform.lib.of_type("aws_wafv2_web_acl_association")
	some k in data.terraform.lib.targets(a, "resource_arn")
}

waf_associated(lb) if data.terraform.lib.is_target(lb, protected)

# METADATA
# title: Public ALBs have a WAF web ACL
# scope: rule
# custom:
#   id: ECOM-TF-ALB-001
#   severity: high
#   controls:
#     pci_dss: ["6.4.1", "6.4.2"]
#     soc2: ["CC6.6", "CC7.1"]
#   remediation: Add aws_wafv2_web_acl_association with resource_arn = the ALB's arn and the platform web ACL.
deny contains finding if {
	some lb in public_albs
	not waf_associated(lb)
	finding := {
		"id": "ECOM-TF-ALB-001",
		"msg": sprintf("internet-facing ALB %s has no WAF web ACL association", [lb.address]),
		"resource": lb.address,
	}
}
