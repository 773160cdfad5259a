package terraform.alb_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.alb.deny with input as plan(changes)
}

lb(internal) := rc_unknown("aws_lb", "public", {"name": "shop", "internal": internal, "load_balancer_type": "application"}, {"arn": true})

assoc := rc_unknown("aws_wafv2_web_acl_association", "public", {}, {"resource_arn": true, "web_acl_arn": true})

config := {"configuration": {"root_module": {"resources": [
	{"address": "aws_lb.public", "mode": "managed", "type": "aws_lb", "name": "public", "expressions": {}},
	{"address": "aws_wafv2_web_acl_association.public", "mode": "managed", "type": "aws_wafv2_web_acl_association", "name": "public", "expressions": {"resource_arn": {"references": ["aws_lb.public.arn", "aws_lb.public"]}}},
]}}}

test_alb_001_associated_passes if {
	count(data.terraform.alb.deny) == 0 with input as object.union(plan([lb(false), assoc]), config)
}

test_alb_001_missing_waf_denied if has_id(denials([lb(false)]), "ECOM-TF-ALB-001")

test_alb_001_internal_alb_passes if count(denials([lb(true)])) == 0

test_alb_001_by_known_arn if {
	l := rc("aws_lb", "imported", {"arn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/shop/1", "internal": false})
	a := rc("aws_wafv2_web_acl_association", "imported", {"resource_arn": "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/shop/1"})
	count(denials([l, a])) == 0
}
