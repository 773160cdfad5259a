//! Calls from one service to another, authenticated with the service token.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::problem::Problem;
use crate::settings::Secret;

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
    token: Option<Secret>,
}

impl ServiceClient {
    pub fn new(service: &str, http: reqwest::Client, base: &str, token: Option<Secret>) -> Self {
        Self {
            service: service.to_string(),
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<T, CallError> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.map_err(|e| CallError::Transport {
            service: self.service.clone(),
            reason: e.to_string(),
        })?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| CallError::Transport {
            service: self.service.clone(),
            reason: e.to_string(),
        })?;
        if !status.is_success() {
            return Err(CallError::Status {
                service: self.service.clone(),
                status: status.as_u16(),
                problem: serde_json::from_slice(&bytes).ok().map(Box::new),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| CallError::Decode {
            service: self.service.clone(),
            reason: e.to_string(),
        })
    }
}
