output "bucket_name" {
  description = "Name of the log bucket. Known only once its policy is in place: S3 refuses to turn on access logging (InvalidTargetBucketForLogging) into a bucket whose policy does not yet let the logging service write."
  value       = aws_s3_bucket.this.id
  depends_on  = [aws_s3_bucket_policy.this, aws_s3_bucket_ownership_controls.this]
}

output "bucket_arn" {
  description = "ARN of the log bucket."
  value       = aws_s3_bucket.this.arn
}

output "elb_log_prefix" {
  description = "Prefix under which load balancers must write access logs (matches the bucket policy)."
  value       = "elb"
}
