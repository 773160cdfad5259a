# Tests for terraform.lib, and the small plan builders the other *_test.rego files share.
package terraform.lib_test

import rego.v1

aws := "registry.terraform.io/hashicorp/aws"

# A resource_changes entry that creates type.name with the given attributes.
rc(type, name, after) := {
	"address": sprintf("%s.%s", [type, name]),
	"mode": "managed",
	"type": type,
	"name": name,
	"provider_name": aws,
	"change": {"actions": ["create"], "before": null, "after": after, "after_unknown": {}},
}

# The same, with some attributes only known after apply.
rc_unknown(type, name, after, unknown) := object.union(rc(type, name, after), {"change": {
	"actions": ["create"],
	"before": null,
	"after": after,
	"after_unknown": unknown,
}})

plan(changes) := {"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": changes}

has_id(findings, id) if {
	some f in findings
	f.id == id
}

good_tags := {"project": "shop", "environment": "prod", "owner": "platform", "data-classification": "internal"}

test_deleted_resources_are_skipped if {
	gone := object.union(rc("aws_s3_bucket", "old", {}), {"change": {"actions": ["delete"], "before": {}, "after": null}})
	count(data.terraform.lib.resources) == 0 with input as plan([gone])
}

test_noop_resources_are_checked if {
	same := object.union(rc("aws_s3_bucket", "kept", {"bucket": "kept"}), {"change": {"actions": ["no-op"], "before": {"bucket": "kept"}, "after": {"bucket": "kept"}}})
	count(data.terraform.lib.resources) == 1 with input as plan([same])
}

test_data_sources_are_skipped if {
	d := object.union(rc("aws_caller_identity", "me", {}), {"mode": "data"})
	count(data.terraform.lib.resources) == 0 with input as plan([d])
}

test_planned_values_fallback_walks_child_modules if {
	doc := {"format_version": "0.2", "planned_values": {"root_module": {
		"resources": [{"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main", "values": {"cidr_block": "10.0.0.0/16"}}],
		"child_modules": [{"address": "module.data", "resources": [{"address": "module.data.aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "values": {}}]}],
	}}}
	addrs := {r.address | some r in data.terraform.lib.resources} with input as doc
	addrs == {"aws_vpc.main", "module.data.aws_s3_bucket.b"}
	mods := {r.module | some r in data.terraform.lib.resources} with input as doc
	mods == {"", "module.data"}
}

test_environment_prefers_data if {
	r := {"values": {"tags_all": {"environment": "nonprod"}}, "unknown": {}}
	data.terraform.lib.environment(r) == "prod" with data.ecomctl.environment as "prod"
}

test_environment_falls_back_to_variable_then_tag if {
	r := {"values": {"tags_all": {"environment": "nonprod"}}, "unknown": {}}
	data.terraform.lib.environment(r) == "nonprod"
	data.terraform.lib.environment(r) == "staging" with input as {"variables": {"environment": {"value": "staging"}}}
}

test_tags_use_default_tags_when_tags_all_missing if {
	doc := {"configuration": {"provider_config": {"aws": {"expressions": {"default_tags": [{"tags": {"constant_value": {"owner": "platform"}}}]}}}}}
	r := {"values": {"tags": {"project": "shop"}}, "unknown": {}}
	data.terraform.lib.tags(r) == {"owner": "platform", "project": "shop"} with input as doc
}

test_strip_index if {
	data.terraform.lib.strip_index("module.a[0].module.b[\"x\"]") == "module.a.module.b"
	data.terraform.lib.strip_index("module.a") == "module.a"
}

test_points_at_by_configuration_reference if {
	doc := {
		"resource_changes": [
			object.union(rc("aws_s3_bucket", "b", {}), {"address": "module.s.aws_s3_bucket.b", "module_address": "module.s"}),
			object.union(rc("aws_s3_bucket_policy", "p", {}), {"address": "module.s.aws_s3_bucket_policy.p", "module_address": "module.s"}),
		],
		"configuration": {"root_module": {"module_calls": {"s": {"module": {"resources": [
			{"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "name": "b", "expressions": {}},
			{"address": "aws_s3_bucket_policy.p", "mode": "managed", "type": "aws_s3_bucket_policy", "name": "p", "expressions": {"bucket": {"references": ["aws_s3_bucket.b.id", "aws_s3_bucket.b"]}}},
		]}}}}},
	}
	some b in data.terraform.lib.resources with input as doc
	b.type == "aws_s3_bucket"
	some p in data.terraform.lib.resources with input as doc
	p.type == "aws_s3_bucket_policy"
	data.terraform.lib.points_at(p, "bucket", b) with input as doc
}

test_points_at_false_without_link if {
	b := {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "name": "b", "module": "", "values": {"bucket": "one"}, "unknown": {}}
	p := {"address": "aws_s3_bucket_policy.p", "type": "aws_s3_bucket_policy", "name": "p", "module": "", "values": {"bucket": "two"}, "unknown": {}}
	not data.terraform.lib.points_at(p, "bucket", b)
}

test_format_0_2_resource_changes_are_read if {
	doc := {"format_version": "0.2", "terraform_version": "1.0.3", "resource_changes": [rc("aws_vpc", "main", {"cidr_block": "10.0.0.0/16"})]}
	[r.address | some r in data.terraform.lib.resources] == ["aws_vpc.main"] with input as doc
}

test_of_type_groups_resources if {
	doc := plan([rc("aws_sns_topic", "a", {}), rc("aws_sns_topic", "b", {}), rc("aws_vpc", "main", {})])
	count(data.terraform.lib.of_type("aws_sns_topic")) == 2 with input as doc
	count(data.terraform.lib.of_type("aws_s3_bucket")) == 0 with input as doc
}
