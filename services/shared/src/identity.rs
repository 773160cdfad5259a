//! Per-service identities: the extractors for routes other platform services call.
//!
//! A calling service presents a short-lived token login issued to it (client-credentials
//! grant, `token_use: service`), signed with login's keys, for one audience (the called
//! service's name) and with scopes. [`ServiceCaller`] accepts any such token for this service;
//! [`Scoped`] one that carries a given scope; [`Caller`] a service token with a scope or a
//! user's token with a role. A user's access token is never a service token, nor the other
//! way round.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::auth::{bearer, AuthError, Claims, HasAuth, Verified};
use crate::problem::Problem;

/// The scopes the platform's services check, each named `<audience>:<action>`: a token for
/// audience `payments` can only carry `payments:*` scopes.
pub mod scopes {
    /// Authorize payments (single and batch), answer a 3-D Secure challenge, void.
    pub const PAYMENTS_AUTHORIZE: &str = "payments:authorize";
    /// Read a payment.
    pub const PAYMENTS_READ: &str = "payments:read";
    /// Capture an authorization.
    pub const PAYMENTS_CAPTURE: &str = "payments:capture";
    /// Refund a capture.
    pub const PAYMENTS_REFUND: &str = "payments:refund";
    /// Reserve, commit and release stock; set the quantity on hand.
    pub const INVENTORY_WRITE: &str = "inventory:write";
    /// Read a reservation.
    pub const INVENTORY_READ: &str = "inventory:read";

    /// Every scope a service checks (login refuses to grant any other).
    pub const ALL: &[&str] = &[
        PAYMENTS_AUTHORIZE,
        PAYMENTS_READ,
        PAYMENTS_CAPTURE,
        PAYMENTS_REFUND,
        INVENTORY_WRITE,
        INVENTORY_READ,
    ];

    /// What orders needs for its checkout saga (its client's scopes in dev and the chart).
    pub const ORDERS: &[&str] = ALL;

    /// The audience a scope is for: what comes before its `:`.
    pub fn audience(scope: &str) -> &str {
        scope.split_once(':').map_or("", |(aud, _)| aud)
    }
}

/// A platform service, authenticated by a service token for this service.
#[derive(Debug, Clone)]
pub struct ServiceCaller {
    /// The calling client's id (`orders`, ...).
    pub client: String,
    pub claims: Claims,
}

impl ServiceCaller {
    fn from_claims(claims: Claims) -> Self {
        let client = claims
            .client_id
            .clone()
            .unwrap_or_else(|| claims.sub.trim_start_matches("svc:").to_string());
        Self { client, claims }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims.has_scope(scope)
    }

    /// 403 unless the token carries `scope`.
    pub fn require(&self, scope: &str) -> Result<(), Problem> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            tracing::info!(client = %self.client, scope, "service call refused: scope missing");
            Err(AuthError::MissingScope(scope.to_string()).into())
        }
    }
}

impl<S: HasAuth + Send + Sync> FromRequestParts<S> for ServiceCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AuthError::MissingToken)?;
        let claims = state
            .verifier()
            .verify_service(token, state.audience())
            .await?;
        Ok(Self::from_claims(claims))
    }
}

/// A scope a route requires, as a type (see [`Scoped`]).
pub trait Scope {
    const NAME: &'static str;
}

/// Declares scope marker types: `scope_type!(Capture = scopes::PAYMENTS_CAPTURE);`.
#[macro_export]
macro_rules! scope_type {
    ($($name:ident = $scope:expr;)+) => {$(
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl $crate::identity::Scope for $name {
            const NAME: &'static str = $scope;
        }
    )+};
}

/// A platform service whose token carries the scope `S` (401 without a valid service token
/// for this service, 403 without the scope).
#[derive(Debug, Clone)]
pub struct Scoped<S: Scope>(pub ServiceCaller, PhantomData<S>);

impl<S: Scope, St: HasAuth + Send + Sync> FromRequestParts<St> for Scoped<S> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let caller = ServiceCaller::from_request_parts(parts, state).await?;
        caller.require(S::NAME)?;
        Ok(Self(caller, PhantomData))
    }
}

/// Either a platform service (its token for this service) or a user.
#[derive(Debug, Clone)]
pub enum Caller {
    Service(ServiceCaller),
    User(Claims),
}

impl Caller {
    /// Services whose token carries `scope`, and users with `role`, pass.
    pub fn require_scope_or_role(&self, scope: &str, role: &str) -> Result<(), Problem> {
        match self {
            Caller::Service(s) => s.require(scope),
            Caller::User(c) if c.has_role(role) => Ok(()),
            Caller::User(_) => Err(AuthError::MissingRole(role.to_string()).into()),
        }
    }
}

impl<S: HasAuth + Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AuthError::MissingToken)?;
        Ok(
            match state.verifier().verify_any(token, state.audience()).await? {
                Verified::Service(c) => Caller::Service(ServiceCaller::from_claims(c)),
                Verified::User(c) => Caller::User(c),
            },
        )
    }
}
