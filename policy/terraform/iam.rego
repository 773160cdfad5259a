# IAM: no full-admin policies; GitHub OIDC trust pinned to repositories.
package terraform.iam

import rego.v1

# Resource type -> attribute that holds a JSON policy document.
policy_attrs := {
	"aws_iam_policy": "policy",
	"aws_iam_role_policy": "policy",
	"aws_iam_user_policy": "policy",
	"aws_iam_group_policy": "policy",
}

policy_docs contains [r, doc] if {
	some type, attr in policy_attrs
	some r in data.terraform.lib.of_type(type)
	doc := data.terraform.lib.policy_document(r, attr)
}

policy_docs contains [r, doc] if {
	some r in data.terraform.lib.of_type("aws_iam_role")
	some inline in data.terraform.lib.list(r.values.inline_policy)
	doc := json.unmarshal(inline.policy)
}

wildcard_actions := {"*", "*:*"}

full_admin(st) if {
	st.Effect == "Allow"
	some a in data.terraform.lib.as_set(st.Action)
	a in wildcard_actions
	"*" in data.terraform.lib.as_set(st.Resource)
}

# METADATA
# title: No IAM policy allows every action on every resource
# scope: rule
# custom:
#   id: ECOM-TF-IAM-001
#   severity: high
#   controls:
#     pci_dss: ["7.2.1", "7.2.2"]
#     soc2: ["CC6.1", "CC6.3"]
#   remediation: List the actions and resources the principal needs; use AWS managed job-function policies only through reviewed roles.
deny contains finding if {
	some pair in policy_docs
	[r, doc] := pair
	some st in data.terraform.lib.statements(doc)
	full_admin(st)
	finding := {
		"id": "ECOM-TF-IAM-001",
		"msg": sprintf("%s allows Action \"*\" on Resource \"*\"", [r.address]),
		"resource": r.address,
	}
}

github_issuer := "token.actions.githubusercontent.com"

sub_key := "token.actions.githubusercontent.com:sub"

github_statement(st) if {
	some p in data.terraform.lib.as_set(st.Principal.Federated)
	contains(p, github_issuer)
}

# Every value of the :sub condition, across StringEquals / StringLike (and ForAnyValue forms).
sub_values(st) := {v |
	some op, cond in st.Condition
	op in {"StringEquals", "StringLike", "ForAnyValue:StringEquals", "ForAnyValue:StringLike"}
	some v in data.terraform.lib.as_set(cond[sub_key])
}

# "repo:OWNER/REPO:..." with a literal owner and repository.
pinned(v) if {
	startswith(v, "repo:")
	slug := split(substring(v, 5, count(v)), ":")[0]
	parts := split(slug, "/")
	count(parts) == 2
	every p in parts {
		p != ""
		not contains(p, "*")
		not contains(p, "?")
	}
}

github_trust_problem(st) := "has no token.actions.githubusercontent.com:sub condition" if {
	count(sub_values(st)) == 0
}

github_trust_problem(st) := sprintf("trusts unpinned subjects %v", [sort(bad)]) if {
	bad := {v | some v in sub_values(st); not pinned(v)}
	count(bad) > 0
}

# METADATA
# title: GitHub Actions OIDC trust is pinned to repositories
# description: A role trusted by token.actions.githubusercontent.com restricts the sub claim to named repositories ("repo:OWNER/REPO:..."), never a wildcard owner or repository.
# scope: rule
# custom:
#   id: ECOM-TF-IAM-002
#   severity: high
#   controls:
#     pci_dss: ["7.2.2", "7.2.5", "8.2.2"]
#     soc2: ["CC6.1", "CC6.2", "CC8.1"]
#   remediation: Add a StringEquals or StringLike condition on token.actions.githubusercontent.com:sub with values such as "repo:acme/shop:ref:refs/heads/main" or "repo:acme/shop:environment:prod".
deny contains finding if {
	some r in data.terraform.lib.of_type("aws_iam_role")
	doc := data.terraform.lib.policy_document(r, "assume_role_policy")
	some st in data.terraform.lib.statements(doc)
	st.Effect == "Allow"
	github_statement(st)
	problem := github_trust_problem(st)
	finding := {
		"id": "ECOM-TF-IAM-002",
		"msg": sprintf("role %s %s", [r.address, problem]),
		"resource": r.address,
	}
}
