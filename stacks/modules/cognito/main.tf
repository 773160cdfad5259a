
locals {
  create_smoke_test_user = var.smoke_test_user_email != null && nonsensitive(var.smoke_test_user_temp_password != null)
}

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  user_pool_tier           = "PLUS" # threat protection (advanced security) needs the Plus tier
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = var.mfa_required ? "ON" : "OPTIONAL"
  tags                     = var.tags

  software_token_mfa_configuration {
    enabled = true
  }

  user_pool_add_ons {
    advanced_security_mode = "ENFORCED"
  }

  password_policy {
    minimum_length                   = var.password_minimum_length
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
    password_history_size            = 5
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  username_configuration {
    case_sensitive = false
  }

  user_attribute_update_settings {
    attributes_require_verification_before_update = ["email"]
  }

  admin_create_user_config {
    allow_admin_create_user_only = false
  }

  schema {
    name                = "email"
    attribute_data_type = "String"
    required            = true
    mutable             = true

    string_attribute_constraints {
      min_length = 3
      max_length = 254
    }
  }

  lifecycle {
    # Cognito does not allow schema attributes to change after creation.
    ignore_changes = [schema]
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

# Public client for the storefront: authorization code flow (the app sends a
# PKCE code_challenge), no client secret, no implicit flow, no password flows.
resource "aws_cognito_user_pool_client" "web" {
  name         = "${var.name}-web"
  user_pool_id = aws_cognito_user_pool.this.id

  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = ["https://${var.app_domain}${var.callback_path}"]
  logout_urls                          = ["https://${var.app_domain}/"]
  default_redirect_uri                 = "https://${var.app_domain}${var.callback_path}"

  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  access_token_validity  = 15
  id_token_validity      = 15
  refresh_token_validity = 12
  auth_session_validity  = 3

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "hours"
  }
}

resource "aws_cognito_user" "smoke_test" {
  count = local.create_smoke_test_user ? 1 : 0

  user_pool_id       = aws_cognito_user_pool.this.id
  username           = var.smoke_test_user_email
  temporary_password = var.smoke_test_user_temp_password
  message_action     = "SUPPRESS"

  attributes = {
    email          = var.smoke_test_user_email
    email_verified = "true"
  }
}
