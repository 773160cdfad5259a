package terraform.cognito_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

denials(changes) := d if {
	d := data.terraform.cognito.deny with input as plan(changes)
}

warnings(changes) := w if {
	w := data.terraform.cognito.warn with input as plan(changes)
}

pool(mfa) := rc("aws_cognito_user_pool", "users", {"name": "shop", "mfa_configuration": mfa})

test_cog_001_mfa_on_passes if {
	count(denials([pool("ON")])) == 0
	count(warnings([pool("ON")])) == 0
}

test_cog_001_mfa_off_denied if has_id(denials([pool("OFF")]), "ECOM-TF-COG-001")

test_cog_001_mfa_unset_denied if has_id(denials([pool(null)]), "ECOM-TF-COG-001")

test_cog_002_optional_warns if {
	count(denials([pool("OPTIONAL")])) == 0
	has_id(warnings([pool("OPTIONAL")]), "ECOM-TF-COG-002")
}
