output "bucket_name" {
  description = "Name of the audit log bucket, known once its policy is in place (CloudTrail checks the policy when a trail is created)."
  value       = aws_s3_bucket.this.id

  depends_on = [aws_s3_bucket_policy.this]
}

output "bucket_arn" {
  description = "ARN of the audit log bucket."
  value       = aws_s3_bucket.this.arn
}
