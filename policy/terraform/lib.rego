# Helpers shared by the Terraform plan rules. This package has no deny or warn rules.
#
# Input: the document written by `terraform show -json <planfile>` (format_version "0.2" from
# Terraform 1.0 and "1.x" from later versions; both have the fields read here).
# Extra context from ecomctl arrives as data.ecomctl (see policy/README.md).
package terraform.lib

import rego.v1

# Other packages refer to this one by its full path (data.terraform.lib.x) rather than through
# `import`: regorus resolves imported rules but not imported function names.

# Every managed resource that will exist after the apply, as
# {address, type, name, module, config_address, values, unknown}.
# Deletes are skipped (nothing remains to check). No-op changes are kept on purpose: a resource
# that already exists must still comply, and a waiver is the way to accept a known exception.
# A document without resource_changes (a plan of nothing, or a state-shaped document) is read
# from planned_values instead.
resources := changed_resources if {
	is_array(input.resource_changes)
} else := planned_resources

changed_resources := [r |
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
	r := resource(rc.address, rc.type, rc.name, object.get(rc, "module_address", ""), rc.change.after, unknown_map(rc.change))
]

# planned_values.root_module and its child_modules, three levels deep (as config_resources).
planned_resources := [r |
	some module in planned_modules
	some node in list(module.resources)
	node.mode == "managed"
	r := resource(node.address, node.type, node.name, object.get(module, "address", ""), object.get(node, "values", {}), {})
]

planned_modules := array.concat(array.concat([root], level1), array.concat(level2, level3)) if {
	root := input.planned_values.root_module
	level1 := [m | some m in list(object.get(root, "child_modules", []))]
	level2 := [m | some p in level1; some m in list(object.get(p, "child_modules", []))]
	level3 := [m | some p in level2; some m in list(object.get(p, "child_modules", []))]
}

resource(address, type, name, module, values, unknown) := {
	"address": address,
	"type": type,
	"name": name,
	"module": module,
	"config_address": concat("", [module_prefix(module), type, ".", name]),
	"values": values,
	"unknown": unknown,
}

# Resources grouped by type, computed once: {"aws_s3_bucket": [...], ...}.
resource_types := {r.type | some r in resources}

by_type := {t: scan_type(t) | some t in resource_types}

scan_type(t) := [r | some r in resources; r.type == t]

of_type(t) := object.get(by_type, t, [])

unknown_map(change) := u if {
	u := change.after_unknown
	is_object(u)
} else := {}

# An attribute whose value is only known after apply.
is_unknown(r, attr) if r.unknown[attr] == true

# An attribute that is set: a non-empty known value, or a value computed at apply time.
is_set(r, attr) if {
	v := r.values[attr]
	not v in {null, "", [], {}}
}

is_set(r, attr) if is_unknown(r, attr)

# ---------------------------------------------------------------- environment and settings

# The environment a resource belongs to: data.ecomctl.environment, else the plan's
# `environment` variable, else the resource's own `environment` tag, else "".
environment(r) := e if {
	e := data.ecomctl.environment
	is_string(e)
} else := e if {
	e := input.variables.environment.value
	is_string(e)
} else := e if {
	e := tags(r).environment
	is_string(e)
} else := ""

is_prod(r) if environment(r) in {"prod", "production"}

default_allowed_cidrs := ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]

# data.ecomctl.allowed_cidrs, else the plan's allowed_cidrs variable, else the RFC 1918 ranges.
allowed_cidrs := c if {
	c := data.ecomctl.allowed_cidrs
	is_array(c)
} else := c if {
	c := input.variables.allowed_cidrs.value
	is_array(c)
} else := default_allowed_cidrs

default_required_tags := ["project", "environment", "owner", "data-classification"]

required_tags := t if {
	t := data.ecomctl.required_tags
	is_array(t)
} else := default_required_tags

min_backup_retention_days := n if {
	n := data.ecomctl.min_backup_retention_days
	is_number(n)
} else := 7

# ---------------------------------------------------------------- tags

# A resource is taggable when its schema has tags or tags_all.
taggable(r) if {
	some k, _ in r.values
	k in {"tags", "tags_all"}
}

taggable(r) if is_unknown(r, "tags_all")

# Effective tags: tags_all when known (it includes the provider's default_tags); otherwise the
# provider's constant default_tags from the configuration merged with the resource's own tags.
tags(r) := t if {
	t := r.values.tags_all
	is_object(t)
} else := object.union(provider_default_tags, own_tags(r))

own_tags(r) := t if {
	t := r.values.tags
	is_object(t)
} else := {}

provider_default_tags := t if {
	t := input.configuration.provider_config.aws.expressions.default_tags[0].tags.constant_value
	is_object(t)
} else := {}

# ---------------------------------------------------------------- references between resources
#
# Plans rarely know ids and ARNs, so a link such as "this policy is for that bucket" is read from
# the configuration section (expressions.<attr>.references), with known values as a second way.
# A resource is named by keys(t): its config address ("module.storage.aws_s3_bucket.this", no
# instance keys) and its known id/arn/bucket/name. targets(r, attr) gives the keys that attribute
# attr of r points at. A rule builds the set of targets once and then tests keys(t) against it.

# Configuration resources by config address, computed once. Modules are read to three levels
# of nesting (root -> module -> module -> module); walk() over the whole configuration costs
# more than every rule together on a large plan.
config_resources := object.union_n([
	{node.address: node |
		some node in list(input.configuration.root_module.resources)
	},
	{concat("", ["module.", n1, ".", node.address]): node |
		some n1, c1 in object.get(input.configuration.root_module, "module_calls", {})
		some node in list(c1.module.resources)
	},
	{concat("", ["module.", n1, ".module.", n2, ".", node.address]): node |
		some n1, c1 in object.get(input.configuration.root_module, "module_calls", {})
		some n2, c2 in object.get(c1.module, "module_calls", {})
		some node in list(c2.module.resources)
	},
	{concat("", ["module.", n1, ".module.", n2, ".module.", n3, ".", node.address]): node |
		some n1, c1 in object.get(input.configuration.root_module, "module_calls", {})
		some n2, c2 in object.get(c1.module, "module_calls", {})
		some n3, c3 in object.get(c2.module, "module_calls", {})
		some node in list(c3.module.resources)
	},
])

# "module.a[0].module.b[\"x\"]" -> "module.a.module.b"
strip_index(s) := concat("", [p |
	some i, part in split(s, "[")
	p := after_bracket(i, part)
])

after_bracket(0, part) := part

after_bracket(i, part) := substring(part, indexof(part, "]") + 1, count(part)) if i > 0

module_prefix(module) := "" if module == ""

module_prefix(module) := concat("", [strip_index(module), "."]) if module != ""

not_resources := {"var", "local", "module", "data", "each", "count", "path", "self", "terraform"}

targets(r, attr) := refs | values if {
	refs := {t |
		node := config_resources[r.config_address]
		some ref in list(node.expressions[attr].references)
		parts := split(ref, ".")
		count(parts) >= 2
		not parts[0] in not_resources
		t := concat("", [module_prefix(r.module), parts[0], ".", split(parts[1], "[")[0]])
	}
	values := {v | some v in as_list(r.values[attr]); is_string(v); v != ""}
}

as_list(x) := x if is_array(x)

as_list(x) := [x] if is_string(x)

keys(t) := {t.config_address} | {v |
	some k in ["id", "arn", "bucket", "name"]
	v := t.values[k]
	is_string(v)
	v != ""
}

# Attribute attr of r points at resource t.
points_at(r, attr, t) if {
	some k in keys(t)
	k in targets(r, attr)
}

# Resource t is pointed at by a key in the set `pointed` (built with targets()).
is_target(t, pointed) if {
	some k in keys(t)
	k in pointed
}

# ---------------------------------------------------------------- JSON policy documents

# The parsed policy document in attribute attr, when it is known at plan time.
policy_document(r, attr) := doc if {
	s := r.values[attr]
	is_string(s)
	s != ""
	doc := json.unmarshal(s)
}

statements(doc) := s if {
	s := doc.Statement
	is_array(s)
} else := [doc.Statement]

# A string-or-list IAM field as a set.
as_set(x) := {x} if is_string(x)

as_set(x) := s if {
	is_array(x)
	s := {v | some v in x}
}

# A boolean attribute that is true, or computed at apply time (cannot be proven false).
enabled(r, attr) if r.values[attr] == true

enabled(r, attr) if is_unknown(r, attr)

# A JSON list, or [] for null. Plans write null for unset lists and blocks, and regorus (unlike
# OPA) raises an error when `some x in` or count() meets null, so rules iterate through this.
list(x) := x if {
	is_array(x)
} else := [] if {
	x == null
}
