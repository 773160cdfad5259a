package terraform.s3_test

import rego.v1

# Builders from terraform.lib_test (regorus resolves imported rules but not imported functions,
# so they are wrapped here).
rc(type, name, after) := data.terraform.lib_test.rc(type, name, after)

rc_unknown(type, name, after, unknown) := data.terraform.lib_test.rc_unknown(type, name, after, unknown)

plan(changes) := data.terraform.lib_test.plan(changes)

has_id(findings, id) if data.terraform.lib_test.has_id(findings, id)

bucket := rc("aws_s3_bucket", "assets", {"bucket": "shop-prod-assets"})

sse(alg) := rc("aws_s3_bucket_server_side_encryption_configuration", "assets", {
	"bucket": "shop-prod-assets",
	"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": alg, "kms_master_key_id": "arn:aws:kms:eu-west-1:111122223333:key/1"}], "bucket_key_enabled": true}],
})

pab(v) := rc("aws_s3_bucket_public_access_block", "assets", {
	"bucket": "shop-prod-assets",
	"block_public_acls": true,
	"block_public_policy": true,
	"ignore_public_acls": v,
	"restrict_public_buckets": true,
})

tls_policy := json.marshal({"Version": "2012-10-17", "Statement": [{
	"Sid": "DenyInsecureTransport",
	"Effect": "Deny",
	"Principal": "*",
	"Action": "s3:*",
	"Resource": ["arn:aws:s3:::shop-prod-assets", "arn:aws:s3:::shop-prod-assets/*"],
	"Condition": {"Bool": {"aws:SecureTransport": "false"}},
}]})

open_policy := json.marshal({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": "*"}]})

policy(doc) := rc("aws_s3_bucket_policy", "assets", {"bucket": "shop-prod-assets", "policy": doc})

good := [bucket, sse("aws:kms"), pab(true), policy(tls_policy)]

test_compliant_bucket_has_no_findings if {
	count(data.terraform.s3.deny) == 0 with input as plan(good)
	count(data.terraform.s3.warn) == 0 with input as plan(good)
}

test_s3_001_aes256_denied if {
	has_id(data.terraform.s3.deny, "ECOM-TF-S3-001") with input as plan([bucket, sse("AES256"), pab(true), policy(tls_policy)])
}

test_s3_001_missing_config_denied if {
	has_id(data.terraform.s3.deny, "ECOM-TF-S3-001") with input as plan([bucket, pab(true), policy(tls_policy)])
}

log_bucket := rc("aws_s3_bucket", "assets", {"bucket": "shop-prod-assets", "tags": {"ecomctl:log-delivery": "aws-log-delivery"}})

test_s3_001_log_delivery_bucket_with_sse_s3_passes if {
	not has_id(data.terraform.s3.deny, "ECOM-TF-S3-001") with input as plan([log_bucket, sse("AES256"), pab(true), policy(tls_policy)])
}

test_s3_001_log_delivery_bucket_without_encryption_denied if {
	has_id(data.terraform.s3.deny, "ECOM-TF-S3-001") with input as plan([log_bucket, pab(true), policy(tls_policy)])
}

test_s3_001_kms_passes if {
	not has_id(data.terraform.s3.deny, "ECOM-TF-S3-001") with input as plan(good)
}

test_s3_002_partial_block_denied if {
	has_id(data.terraform.s3.deny, "ECOM-TF-S3-002") with input as plan([bucket, sse("aws:kms"), pab(false), policy(tls_policy)])
}

test_s3_002_account_level_block_passes if {
	acct := rc("aws_s3_account_public_access_block", "this", {"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true})
	not has_id(data.terraform.s3.deny, "ECOM-TF-S3-002") with input as plan([bucket, acct, sse("aws:kms"), policy(tls_policy)])
}

test_s3_003_no_policy_denied if {
	has_id(data.terraform.s3.deny, "ECOM-TF-S3-003") with input as plan([bucket, sse("aws:kms"), pab(true)])
}

test_s3_003_policy_without_tls_deny_denied if {
	findings := data.terraform.s3.deny with input as plan([bucket, sse("aws:kms"), pab(true), policy(open_policy)])
	some f in findings
	f.id == "ECOM-TF-S3-003"
	f.resource == "aws_s3_bucket_policy.assets"
}

test_s3_003_tls_policy_passes if {
	not has_id(data.terraform.s3.deny, "ECOM-TF-S3-003") with input as plan(good)
}

test_s3_004_unknown_policy_warns if {
	p := rc_unknown("aws_s3_bucket_policy", "assets", {"bucket": "shop-prod-assets"}, {"policy": true})
	has_id(data.terraform.s3.warn, "ECOM-TF-S3-004") with input as plan([bucket, sse("aws:kms"), pab(true), p])
}

test_s3_004_known_policy_no_warning if {
	not has_id(data.terraform.s3.warn, "ECOM-TF-S3-004") with input as plan(good)
}

test_finding_shape if {
	findings := data.terraform.s3.deny with input as plan([bucket])
	some f in findings
	object.keys(f) == {"id", "msg", "resource"}
	f.resource == "aws_s3_bucket.assets"
}
