# Load balancers: every internet-facing ALB is protected by AWS WAF.
package terraform.alb

import rego.v1

# Rules of terraform.lib are read through this import; its functions are called by their full
# path (data.terraform.lib.f(x)) because regorus does not resolve imported function names.
import data.terraform.lib

public_albs := [lb |
	some lb in lib.resources
	lb.type in {"aws_lb", "aws_alb"}
	object.get(lb.values, "load_balancer_type", "application") in {"application", null}
	lb.values.internal != true
]

waf_associated(lb) if {
	some a in lib.resources
	a.type == "aws_wafv2_web_acl_association"
	data.terraform.lib.points_at(a, "resource_arn", lb)
}

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
