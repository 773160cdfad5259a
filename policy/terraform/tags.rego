# Tags: every taggable resource carries the required tags (default_tags count, via tags_all).
package terraform.tags

import rego.v1

classifications := {"public", "internal", "confidential", "restricted"}

has_tag(tags, key) if {
	v := tags[key]
	is_string(v)
	trim_space(v) != ""
}

# METADATA
# title: Taggable resources carry the required tags
# description: project, environment, owner and data-classification (or data.ecomctl.required_tags) are present and non-empty in tags_all, i.e. resource tags merged with the provider's default_tags.
# scope: rule
# custom:
#   id: ECOM-TF-TAG-001
#   severity: medium
#   controls:
#     pci_dss: ["12.5.1", "9.4.2"]
#     soc2: ["CC2.1", "CC6.1"]
#   remediation: Set the tags once in the provider's default_tags block (ecomctl renders it from the config) or on the resource.
deny contains finding if {
	some r in data.terraform.lib.resources
	data.terraform.lib.taggable(r)
	not data.terraform.lib.is_unknown(r, "tags_all")
	tags := data.terraform.lib.tags(r)
	missing := [k | some k in data.terraform.lib.required_tags; not has_tag(tags, k)]
	count(missing) > 0
	finding := {
		"id": "ECOM-TF-TAG-001",
		"msg": sprintf("%s is missing required tags %v", [r.address, missing]),
		"resource": r.address,
	}
}

# METADATA
# title: data-classification uses a known level
# scope: rule
# custom:
#   id: ECOM-TF-TAG-002
#   severity: low
#   controls:
#     pci_dss: ["9.4.2", "12.5.1"]
#     soc2: ["CC2.1"]
#   remediation: Use one of public, internal, confidential, restricted.
warn contains finding if {
	some r in data.terraform.lib.resources
	data.terraform.lib.taggable(r)
	v := data.terraform.lib.tags(r)["data-classification"]
	is_string(v)
	not v in classifications
	finding := {
		"id": "ECOM-TF-TAG-002",
		"msg": sprintf("%s has data-classification \"%s\", expected one of %v", [r.address, v, sort(classifications)]),
		"resource": r.address,
	}
}
