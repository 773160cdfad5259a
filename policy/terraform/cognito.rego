# Cognito: multi-factor authentication on user pools.
package terraform.cognito

import rego.v1

pools := data.terraform.lib.of_type("aws_cognito_user_pool")

mfa(r) := m if {
	m := r.values.mfa_configuration
	is_string(m)
} else := "OFF"

# METADATA
# title: Cognito user pools require MFA
# scope: rule
# custom:
#   id: ECOM-TF-COG-001
#   severity: high
#   controls:
#     pci_dss: ["8.4.2", "8.5.1"]
#     soc2: ["CC6.1"]
#   remediation: Set mfa_configuration = "ON" with software_token_mfa_configuration { enabled = true }.
deny contains finding if {
	some r in pools
	not data.terraform.lib.is_unknown(r, "mfa_configuration")
	mfa(r) == "OFF"
	finding := {
		"id": "ECOM-TF-COG-001",
		"msg": sprintf("Cognito user pool %s has MFA turned off", [r.address]),
		"resource": r.address,
	}
}

# METADATA
# title: Cognito MFA is required rather than optional
# scope: rule
# custom:
#   id: ECOM-TF-COG-002
#   severity: low
#   controls:
#     pci_dss: ["8.4.2"]
#     soc2: ["CC6.1"]
#   remediation: Move mfa_configuration from "OPTIONAL" to "ON" once users are enrolled.
warn contains finding if {
	some r in pools
	mfa(r) == "OPTIONAL"
	finding := {
		"id": "ECOM-TF-COG-002",
		"msg": sprintf("Cognito user pool %s leaves MFA optional", [r.address]),
		"resource": r.address,
	}
}
