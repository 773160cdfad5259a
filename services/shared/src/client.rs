//! Calls from one service to another, authenticated with the caller's own service token for
//! the called service (a [`TokenSource`]), or with no credential (public routes).

use std::sync::Arc;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::credentials::TokenSource;
use crate::problem::Problem;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{service} is unreachable: {reason}")]
    Transport { service: String, reason: String },
    #[error("{service} answered {status}")]
    Status {
        service: String,
        status: u16,
        problem: Option<Box<Problem>>,
    },
    #[error("{service} answered with an unreadable body: {reason}")]
    Decode { service: String, reason: String },
}

impl CallError {
    /// The problem code the other service answered with, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Status {
                problem: Some(p), ..
            } => Some(p.code.as_str()),
            _ => None,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ServiceClient {
    service: String,
    http: reqwest::Client,
    base: String,
    tokens: Option<Arc<TokenSource>>,
}

impl ServiceClient {
    /// `tokens`: this service's tokens for `service`, or `None` to call its public routes.
    pub fn new(
        service: &str,
        http: reqwest::Client,
        base: &str,
        tokens: Option<Arc<TokenSource>>,
    ) -> Self {
        Self {
            service: service.to_string(),
            http,
            base: base.trim_end_matches('/').to_string(),
            tokens,
        }
    }

    /// A call answered 401 (refused before any effect) is made once more with a fresh token.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<T, CallError> {
        let first = self
            .call_once(method.clone(), path, body, idempotency_key)
            .await;
        match (&self.tokens, first) {
            (Some(_), Err((CallError::Status { status: 401, .. }, Some(used)))) => {
                if let Some(t) = &self.tokens {
                    t.invalidate(&used);
                }
                self.call_once(method, path, body, idempotency_key)
                    .await
                    .map_err(|(e, _)| e)
            }
            (_, r) => r.map_err(|(e, _)| e),
        }
    }

    async fn call_once<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<T, (CallError, Option<crate::settings::Secret>)> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        let mut used = None;
        if let Some(source) = &self.tokens {
            let token = source.token().await.map_err(|e| {
                (
                    CallError::Transport {
                        service: self.service.clone(),
                        reason: e.to_string(),
                    },
                    None,
                )
            })?;
            req = req.bearer_auth(token.expose());
            used = Some(token);
        }
        let fail = |e: CallError| (e, used.clone());
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| {
            fail(CallError::Transport {
                service: self.service.clone(),
                reason: e.to_string(),
            })
        })?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| {
            fail(CallError::Transport {
                service: self.service.clone(),
                reason: e.to_string(),
            })
        })?;
        if !status.is_success() {
            return Err(fail(CallError::Status {
                service: self.service.clone(),
                status: status.as_u16(),
                problem: serde_json::from_slice(&bytes).ok().map(Box::new),
            }));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            fail(CallError::Decode {
                service: self.service.clone(),
                reason: e.to_string(),
            })
        })
    }
}
