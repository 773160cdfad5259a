# Helpers shared by the Terraform plan rules. This package has no deny or warn rules.
#
# Input: the document written by `terraform show -json <planfile>` (format_version "0.2" from
# Terraform 1.0 and "1.x" from later versions; both have the fields read here).
# Extra context from ecomctl arrives as data.ecomctl (see policy/README.md).
package terraform.lib

import rego.v1

# Every managed resource that will exist after the apply, as
# {address, type, name, module, values, unknown}.
# Deletes are skipped (nothing remains to check). No-op changes are kept on purpose: a resource
# that already exists must still comply, and a waiver is the way to accept a known exception.
resources contains r if {
	some rc in input.resource_changes
	rc.mode == "managed"
	rc.change.actions != ["delete"]
	is_object(rc.change.after)
	r := {
		"address": rc.address,
		"type": rc.type,
		"name": rc.name,
		"module": object.get(rc, "module_address", ""),
		"values": rc.change.after,
		"unknown": unknown_map(rc.change),
	}
}

# A plan without resource_changes (or a state-shaped document) still has planned_values:
# walk root_module and every nested child_module.
resources contains r if {
	not input.resource_changes
	walk(input.planned_values.root_module, [path, node])
	count(path) >= 2
	path[count(path) - 2] == "resources"
	node.mode == "managed"
	r := {
		"address": node.address,
		"type": node.type,
		"name": node.name,
		"module": module_of(node),
		"values": object.get(node, "values", {}),
		"unknown": {},
	}
}

unknown_map(change) := u if {
	u := change.after_unknown
	is_object(u)
} else := {}

module_of(node) := trim_suffix(split(node.address, sprintf("%s.%s", [node.type, node.name]))[0], ".")

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

allowed_cidrs := c if {
	c := data.ecomctl.allowed_cidrs
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

# Resources in the configuration keyed by their module path and type.name, e.g.
# "module.storage.aws_s3_bucket.this" (instance keys such as [0] are not part of it).
config_resources[addr] := node if {
	walk(input.configuration.root_module, [path, node])
	count(path) >= 2
	path[count(path) - 2] == "resources"
	node.mode == "managed"
	prefix := concat("", [sprintf("module.%s.", [path[i + 1]]) | some i; path[i] == "module_calls"])
	addr := concat("", [prefix, node.address])
}

# "module.a[0].module.b[\"x\"]" -> "module.a.module.b"
strip_index(s) := concat("", [p |
	some i, part in split(s, "[")
	p := after_bracket(i, part)
])

after_bracket(0, part) := part

after_bracket(i, part) := substring(part, indexof(part, "]") + 1, count(part)) if i > 0

module_prefix(r) := "" if r.module == ""

module_prefix(r) := concat("", [strip_index(r.module), "."]) if r.module != ""

config_address(r) := concat("", [module_prefix(r), r.type, ".", r.name])

# Config addresses that attribute `attr` of resource r refers to.
references(r, attr) := {target |
	node := config_resources[config_address(r)]
	some ref in node.expressions[attr].references
	parts := split(ref, ".")
	count(parts) >= 2
	not parts[0] in {"var", "local", "module", "data", "each", "count", "path", "self", "terraform"}
	target := concat("", [module_prefix(r), parts[0], ".", split(parts[1], "[")[0]])
}

# Known values that identify resource t when another resource points at it.
identities(t) := {v |
	some k in ["id", "arn", "bucket", "name"]
	v := t.values[k]
	is_string(v)
	v != ""
}

# Attribute `attr` of r points at resource t: by a known value, or by a reference in the
# configuration (the usual case, since ids and ARNs are unknown until apply).
points_at(r, attr, t) if {
	v := r.values[attr]
	is_string(v)
	v in identities(t)
}

points_at(r, attr, t) if {
	some v in list(r.values[attr])
	is_string(v)
	v in identities(t)
}

points_at(r, attr, t) if config_address(t) in references(r, attr)

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
