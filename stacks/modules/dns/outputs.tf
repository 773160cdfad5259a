output "zone_id" {
  description = "Hosted zone ID of the domain (created or reused)."
  value       = local.zone_id
}

output "name_servers" {
  description = "Name servers of the created zone (delegate the domain to them), or an empty list when the zone was reused."
  value       = var.create_hosted_zone ? aws_route53_zone.this[0].name_servers : []
}

output "certificate_arn" {
  description = "ARN of the validated certificate for the domain and its wildcard."
  value       = aws_acm_certificate_validation.this.certificate_arn
}

output "ds_record" {
  description = "DS record to publish at the parent zone to complete the DNSSEC chain of trust, or null."
  value       = local.sign_zone ? aws_route53_key_signing_key.this[0].ds_record : null
}
