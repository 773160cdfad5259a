package terraform.iam_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.iam.deny with input as plan(changes)
}

doc(statements) := json.marshal({"Version": "2012-10-17", "Statement": statements})

admin := {"Effect": "Allow", "Action": "*", "Resource": "*"}

scoped := {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::shop-assets/*"]}

test_iam_001_admin_policy_denied if has_id(denials([rc("aws_iam_policy", "admin", {"policy": doc([admin])})]), "ECOM-TF-IAM-001")

test_iam_001_admin_in_list_form_denied if {
	st := {"Effect": "Allow", "Action": ["s3:GetObject", "*"], "Resource": ["*"]}
	has_id(denials([rc("aws_iam_role_policy", "x", {"policy": doc([st])})]), "ECOM-TF-IAM-001")
}

test_iam_001_inline_role_policy_denied if {
	role := rc("aws_iam_role", "ci", {"assume_role_policy": doc([]), "inline_policy": [{"name": "all", "policy": doc([admin])}]})
	has_id(denials([role]), "ECOM-TF-IAM-001")
}

test_iam_001_scoped_policy_passes if count(denials([rc("aws_iam_policy", "read", {"policy": doc([scoped])})])) == 0

test_iam_001_deny_statement_passes if {
	count(denials([rc("aws_iam_policy", "guard", {"policy": doc([{"Effect": "Deny", "Action": "*", "Resource": "*"}])})])) == 0
}

provider := "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"

trust(condition) := doc([{
	"Effect": "Allow",
	"Principal": {"Federated": provider},
	"Action": "sts:AssumeRoleWithWebIdentity",
	"Condition": condition,
}])

aud := {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}

role(condition) := rc("aws_iam_role", "github", {"name": "shop-github", "assume_role_policy": trust(condition), "inline_policy": []})

test_iam_002_pinned_repository_passes if {
	c := {"StringEquals": aud, "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:acme/shop:ref:refs/heads/main", "repo:acme/shop:environment:*"]}}
	count(denials([role(c)])) == 0
}

test_iam_002_missing_sub_denied if has_id(denials([role({"StringEquals": aud})]), "ECOM-TF-IAM-002")

test_iam_002_wildcard_org_denied if {
	c := {"StringEquals": aud, "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*:*"}}
	has_id(denials([role(c)]), "ECOM-TF-IAM-002")
}

test_iam_002_any_repo_denied if {
	c := {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}
	has_id(denials([role(c)]), "ECOM-TF-IAM-002")
}

test_iam_002_other_federation_ignored if {
	d := doc([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}])
	count(denials([rc("aws_iam_role", "node", {"assume_role_policy": d})])) == 0
}
