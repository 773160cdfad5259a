output "user_pool_id" {
  description = "ID of the user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "ARN of the user pool."
  value       = aws_cognito_user_pool.this.arn
}

output "client_id" {
  description = "ID of the public web client (authorization code + PKCE)."
  value       = aws_cognito_user_pool_client.web.id
}

output "domain" {
  description = "Fully qualified hosted UI domain."
  value       = "${aws_cognito_user_pool_domain.this.domain}.auth.${var.region}.amazoncognito.com"
}

output "issuer_url" {
  description = "OIDC issuer URL of the user pool (JWKS at <issuer>/.well-known/jwks.json)."
  value       = "https://${aws_cognito_user_pool.this.endpoint}"
}
