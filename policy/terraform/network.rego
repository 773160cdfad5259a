# Network: no world-open ingress except the public ALB on 80/443; VPC CIDRs in allowed ranges.
package terraform.network

import rego.v1

world := {"0.0.0.0/0", "::/0"}

web_ports := {80, 443}

resources_of(t) := data.terraform.lib.of_type(t)

public_alb(lb) if {
	object.get(lb.values, "load_balancer_type", "application") in {"application", null}
	not lb.values.internal == true
}

# Keys (see terraform.lib) of the security groups attached to an internet-facing ALB.
alb_groups := {k |
	some lb in array.concat(resources_of("aws_lb"), resources_of("aws_alb"))
	public_alb(lb)
	some k in data.terraform.lib.targets(lb, "security_groups")
}

# One TCP port, 80 or 443.
web_only(from, to, protocol) if {
	from == to
	from in web_ports
	lower(sprintf("%v", [protocol])) in {"tcp", "6"}
}

# Every world-open ingress as {resource, groups, from, to, protocol, cidr}; groups are the keys
# of the security group the rule belongs to (empty when it cannot be resolved).
open_ingress contains x if {
	some sg in resources_of("aws_security_group")
	some rule in data.terraform.lib.list(sg.values.ingress)
	some cidr in array.concat(data.terraform.lib.list(object.get(rule, "cidr_blocks", [])), data.terraform.lib.list(object.get(rule, "ipv6_cidr_blocks", [])))
	cidr in world
	x := {"resource": sg.address, "groups": data.terraform.lib.keys(sg), "from": rule.from_port, "to": rule.to_port, "protocol": rule.protocol, "cidr": cidr}
}

open_ingress contains x if {
	some r in resources_of("aws_security_group_rule")
	r.values.type == "ingress"
	some cidr in array.concat(data.terraform.lib.list(object.get(r.values, "cidr_blocks", [])), data.terraform.lib.list(object.get(r.values, "ipv6_cidr_blocks", [])))
	cidr in world
	x := {"resource": r.address, "groups": data.terraform.lib.targets(r, "security_group_id"), "from": r.values.from_port, "to": r.values.to_port, "protocol": r.values.protocol, "cidr": cidr}
}

open_ingress contains x if {
	some r in resources_of("aws_vpc_security_group_ingress_rule")
	some cidr in [object.get(r.values, "cidr_ipv4", null), object.get(r.values, "cidr_ipv6", null)]
	cidr in world
	x := {"resource": r.address, "groups": data.terraform.lib.targets(r, "security_group_id"), "from": object.get(r.values, "from_port", -1), "to": object.get(r.values, "to_port", -1), "protocol": r.values.ip_protocol, "cidr": cidr}
}

allowed_exception(x) if {
	some k in x.groups
	k in alb_groups
	web_only(x.from, x.to, x.protocol)
}

# METADATA
# title: No ingress from the whole internet except the public ALB on 80/443
# description: Security group ingress from 0.0.0.0/0 or ::/0 is only allowed on TCP 80 or 443 of a group attached to an internet-facing application load balancer.
# scope: rule
# custom:
#   id: ECOM-TF-NET-001
#   severity: high
#   controls:
#     pci_dss: ["1.3.1", "1.4.2"]
#     soc2: ["CC6.6"]
#   remediation: Restrict the source to a security group or a private CIDR; only the public ALB group may accept 0.0.0.0/0 on 80/443.
deny contains finding if {
	some x in open_ingress
	not allowed_exception(x)
	finding := {
		"id": "ECOM-TF-NET-001",
		"msg": sprintf("%s allows ingress from %s on ports %v-%v/%v", [x.resource, x.cidr, x.from, x.to, x.protocol]),
		"resource": x.resource,
	}
}

inside_allowed(cidr) if {
	some allowed in data.terraform.lib.allowed_cidrs
	net.cidr_contains(allowed, cidr)
}

vpc_cidrs contains [r, cidr] if {
	some r in data.terraform.lib.resources
	r.type in {"aws_vpc", "aws_vpc_ipv4_cidr_block_association"}
	cidr := r.values.cidr_block
	is_string(cidr)
}

# METADATA
# title: VPC CIDRs are inside the allowed private ranges
# description: Each VPC (and secondary CIDR) lies inside data.ecomctl.allowed_cidrs, by default 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16.
# scope: rule
# custom:
#   id: ECOM-TF-NET-002
#   severity: medium
#   controls:
#     pci_dss: ["1.2.1", "1.4.1"]
#     soc2: ["CC6.6"]
#   remediation: Choose a CIDR from the allowed ranges (or extend allowed_cidrs in ecomctl.yaml if the network team assigned another range).
deny contains finding if {
	some pair in vpc_cidrs
	[r, cidr] := pair
	not inside_allowed(cidr)
	finding := {
		"id": "ECOM-TF-NET-002",
		"msg": sprintf("%s uses CIDR %s outside the allowed ranges %v", [r.address, cidr, data.terraform.lib.allowed_cidrs]),
		"resource": r.address,
	}
}
