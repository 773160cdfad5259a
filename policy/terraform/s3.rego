# S3: KMS encryption, public access block, TLS-only bucket policy.
package terraform.s3

import rego.v1

kms_algorithms := {"aws:kms", "aws:kms:dsse"}

buckets := data.terraform.lib.of_type("aws_s3_bucket")

sse_uses_kms(cfg) if {
	some rule in data.terraform.lib.list(cfg.values.rule)
	some d in data.terraform.lib.list(rule.apply_server_side_encryption_by_default)
	d.sse_algorithm in kms_algorithms
}

# Buckets (as keys, see terraform.lib) that a KMS encryption configuration points at.
kms_configured := {k |
	some cfg in data.terraform.lib.of_type("aws_s3_bucket_server_side_encryption_configuration")
	sse_uses_kms(cfg)
	some k in data.terraform.lib.targets(cfg, "bucket")
}

# Inline configuration (older providers) still counts.
encrypted_with_kms(b) if {
	some c in data.terraform.lib.list(b.values.server_side_encryption_configuration)
	sse_uses_kms(c)
}

encrypted_with_kms(b) if data.terraform.lib.is_target(b, kms_configured)

# AWS log delivery (ELB access logs, S3 server access logs) writes only to buckets encrypted with
# SSE-S3 (AES256). A bucket that declares itself a log-delivery destination with the tag
# ecomctl:log-delivery (set by stacks/modules/log-bucket) may use SSE-S3 instead of KMS. The tag is
# known at plan time, unlike the bucket policy that grants the delivery service, which names the
# bucket's ARN and is computed at apply.
log_delivery_tag := "ecomctl:log-delivery"

declares_log_delivery(b) if b.values.tags[log_delivery_tag] != ""

declares_log_delivery(b) if b.values.tags_all[log_delivery_tag] != ""

sse_s3_configured := {k |
	some cfg in data.terraform.lib.of_type("aws_s3_bucket_server_side_encryption_configuration")
	some rule in data.terraform.lib.list(cfg.values.rule)
	some d in data.terraform.lib.list(rule.apply_server_side_encryption_by_default)
	d.sse_algorithm == "AES256"
	some k in data.terraform.lib.targets(cfg, "bucket")
}

encryption_accepted(b) if encrypted_with_kms(b)

encryption_accepted(b) if {
	declares_log_delivery(b)
	data.terraform.lib.is_target(b, sse_s3_configured)
}

pab_flags := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

all_flags_on(r) if every f in pab_flags {
	r.values[f] == true
}

account_blocks_public_access if {
	some acct in data.terraform.lib.of_type("aws_s3_account_public_access_block")
	all_flags_on(acct)
}

fully_blocked := {k |
	some pab in data.terraform.lib.of_type("aws_s3_bucket_public_access_block")
	all_flags_on(pab)
	some k in data.terraform.lib.targets(pab, "bucket")
}

public_access_blocked(_) if account_blocks_public_access

public_access_blocked(b) if data.terraform.lib.is_target(b, fully_blocked)

bucket_policies := data.terraform.lib.of_type("aws_s3_bucket_policy")

with_policy := {k |
	some p in bucket_policies
	some k in data.terraform.lib.targets(p, "bucket")
}

false_values := {false, "false"}

denies_insecure_transport(doc) if {
	some st in data.terraform.lib.statements(doc)
	st.Effect == "Deny"
	some v in data.terraform.lib.as_set(st.Condition.Bool["aws:SecureTransport"])
	v in false_values
}

# METADATA
# title: S3 buckets are encrypted with a KMS key
# description: Every bucket has a server-side encryption configuration using aws:kms or aws:kms:dsse; a bucket tagged ecomctl:log-delivery (an ELB or S3 access-log destination) may use SSE-S3, the only encryption AWS log delivery accepts.
# scope: rule
# custom:
#   id: ECOM-TF-S3-001
#   severity: high
#   controls:
#     pci_dss: ["3.5.1", "3.6.1"]
#     soc2: ["CC6.1", "CC6.7"]
#   remediation: Add aws_s3_bucket_server_side_encryption_configuration for the bucket with sse_algorithm "aws:kms" and kms_master_key_id set to the platform key.
deny contains finding if {
	some b in buckets
	not encryption_accepted(b)
	finding := {
		"id": "ECOM-TF-S3-001",
		"msg": sprintf("S3 bucket %s is not encrypted with a KMS key (sse_algorithm aws:kms)", [b.address]),
		"resource": b.address,
	}
}

# METADATA
# title: S3 buckets block all public access
# description: A public access block with all four settings true covers the bucket, or the account-level block does.
# scope: rule
# custom:
#   id: ECOM-TF-S3-002
#   severity: high
#   controls:
#     pci_dss: ["1.3.1", "1.4.4", "7.2.1"]
#     soc2: ["CC6.1", "CC6.6"]
#   remediation: Add aws_s3_bucket_public_access_block for the bucket with block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets all true.
deny contains finding if {
	some b in buckets
	not public_access_blocked(b)
	finding := {
		"id": "ECOM-TF-S3-002",
		"msg": sprintf("S3 bucket %s has no public access block with all four settings enabled", [b.address]),
		"resource": b.address,
	}
}

# METADATA
# title: S3 buckets only accept TLS requests
# description: A bucket policy denies every request where aws:SecureTransport is false.
# scope: rule
# custom:
#   id: ECOM-TF-S3-003
#   severity: high
#   controls:
#     pci_dss: ["4.2.1"]
#     soc2: ["CC6.7"]
#   remediation: Attach an aws_s3_bucket_policy with a Deny statement for all principals and actions when aws:SecureTransport is "false".
deny contains finding if {
	some b in buckets
	not data.terraform.lib.is_target(b, with_policy)
	finding := {
		"id": "ECOM-TF-S3-003",
		"msg": sprintf("S3 bucket %s has no bucket policy denying non-TLS requests", [b.address]),
		"resource": b.address,
	}
}

deny contains finding if {
	some p in bucket_policies
	doc := data.terraform.lib.policy_document(p, "policy")
	not denies_insecure_transport(doc)
	finding := {
		"id": "ECOM-TF-S3-003",
		"msg": sprintf("bucket policy %s does not deny requests where aws:SecureTransport is false", [p.address]),
		"resource": p.address,
	}
}

# METADATA
# title: S3 bucket policy is verifiable at plan time
# description: The TLS-only rule cannot read a bucket policy that is computed during apply; it is reported so a reviewer checks it.
# scope: rule
# custom:
#   id: ECOM-TF-S3-004
#   severity: low
#   controls:
#     pci_dss: ["4.2.1"]
#     soc2: ["CC6.7"]
#   remediation: Build the policy from values known at plan time (bucket name rather than ARN outputs), or re-run the plan after the first apply.
warn contains finding if {
	some p in bucket_policies
	data.terraform.lib.is_unknown(p, "policy")
	finding := {
		"id": "ECOM-TF-S3-004",
		"msg": sprintf("bucket policy %s is only known after apply; TLS-only enforcement could not be checked", [p.address]),
		"resource": p.address,
	}
}
