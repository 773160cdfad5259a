package terraform.network_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.network.deny with input as plan(changes)
}

ingress(from, to, cidrs) := {"from_port": from, "to_port": to, "protocol": "tcp", "cidr_blocks": cidrs, "ipv6_cidr_blocks": null, "security_groups": [], "self": false}

alb_sg(rules) := rc("aws_security_group", "alb", {"name": "shop-alb", "ingress": rules, "egress": []})

# The configuration says aws_lb.public uses aws_security_group.alb (ids are unknown at plan time).
with_config(changes) := object.union(plan(changes), {"configuration": {"root_module": {"resources": [
	{"address": "aws_lb.public", "mode": "managed", "type": "aws_lb", "name": "public", "expressions": {"security_groups": {"references": ["aws_security_group.alb.id", "aws_security_group.alb"]}}},
	{"address": "aws_security_group.alb", "mode": "managed", "type": "aws_security_group", "name": "alb", "expressions": {}},
	{"address": "aws_security_group_rule.https", "mode": "managed", "type": "aws_security_group_rule", "name": "https", "expressions": {"security_group_id": {"references": ["aws_security_group.alb.id", "aws_security_group.alb"]}}},
]}}})

lb(internal) := rc_unknown("aws_lb", "public", {"internal": internal, "load_balancer_type": "application"}, {"security_groups": true, "arn": true})

test_net_001_public_alb_on_443_passes if {
	changes := [lb(false), alb_sg([ingress(443, 443, ["0.0.0.0/0"]), ingress(80, 80, ["0.0.0.0/0"])])]
	count(data.terraform.network.deny) == 0 with input as with_config(changes)
}

test_net_001_public_alb_on_22_denied if {
	changes := [lb(false), alb_sg([ingress(22, 22, ["0.0.0.0/0"])])]
	has_id(data.terraform.network.deny, "ECOM-TF-NET-001") with input as with_config(changes)
}

test_net_001_internal_alb_on_443_denied if {
	changes := [lb(true), alb_sg([ingress(443, 443, ["0.0.0.0/0"])])]
	has_id(data.terraform.network.deny, "ECOM-TF-NET-001") with input as with_config(changes)
}

test_net_001_unattached_group_denied if {
	has_id(denials([alb_sg([ingress(443, 443, ["0.0.0.0/0"])])]), "ECOM-TF-NET-001")
}

test_net_001_separate_rule_resource if {
	rule := rc("aws_security_group_rule", "https", {"type": "ingress", "from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": ["::/0"]})
	count(data.terraform.network.deny) == 0 with input as with_config([lb(false), alb_sg([]), rule])
}

test_net_001_ipv6_world_denied if {
	r := rc("aws_vpc_security_group_ingress_rule", "db", {"cidr_ipv6": "::/0", "from_port": 5432, "to_port": 5432, "ip_protocol": "tcp"})
	has_id(denials([r]), "ECOM-TF-NET-001")
}

test_net_001_private_source_passes if {
	count(denials([rc("aws_security_group", "db", {"ingress": [ingress(5432, 5432, ["10.0.0.0/16"])]})])) == 0
}

test_net_002_public_range_denied if {
	has_id(denials([rc("aws_vpc", "main", {"cidr_block": "8.8.0.0/16"})]), "ECOM-TF-NET-002")
}

test_net_002_private_range_passes if {
	count(denials([rc("aws_vpc", "main", {"cidr_block": "10.20.0.0/16"})])) == 0
}

test_net_002_allowed_cidrs_from_data if {
	findings := data.terraform.network.deny with input as plan([rc("aws_vpc", "main", {"cidr_block": "192.168.0.0/20"})])
		with data.ecomctl.allowed_cidrs as ["10.64.0.0/10"]
	has_id(findings, "ECOM-TF-NET-002")
}

test_net_002_allowed_cidrs_from_plan_variable if {
	doc := object.union(plan([rc("aws_vpc", "main", {"cidr_block": "100.64.0.0/16"})]), {"variables": {"allowed_cidrs": {"value": ["100.64.0.0/10"]}}})
	count(data.terraform.network.deny) == 0 with input as doc
}
