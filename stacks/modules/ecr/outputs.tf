output "repository_urls" {
  description = "Map of repository name (<prefix>/<service>, mirrors/<name>) to its URL."
  value       = { for r in aws_ecr_repository.this : r.name => r.repository_url }
}

output "service_repository_urls" {
  description = "Map of service name to its repository URL."
  value       = { for s in var.services : s => aws_ecr_repository.this[s].repository_url }
}

output "repository_arns" {
  description = "ARNs of every repository."
  value       = [for r in aws_ecr_repository.this : r.arn]
}

output "registry" {
  description = "Registry host (<account>.dkr.ecr.<region>.amazonaws.com)."
  value       = length(aws_ecr_repository.this) > 0 ? split("/", values(aws_ecr_repository.this)[0].repository_url)[0] : null
}
