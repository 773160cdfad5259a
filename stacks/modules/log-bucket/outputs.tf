output "bucket_name" {
  description = "Name of the log bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the log bucket."
  value       = aws_s3_bucket.this.arn
}

output "elb_log_prefix" {
  description = "Prefix under which load balancers must write access logs (matches the bucket policy)."
  value       = "elb"
}
