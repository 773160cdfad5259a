//! A small OpenAPI 3.1 document builder: each service lists its routes once, and the document
//! is served at `/openapi.json`. Tests walk the same list to check every route is mounted.

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Public,
    /// A user's bearer JWT.
    User,
    /// A user's bearer JWT with the `admin` role.
    Admin,
    /// The platform's service token.
    Service,
    /// The service token, or a user JWT with the `admin` role.
    ServiceOrAdmin,
    /// An HMAC signature header (webhooks).
    Signature,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub security: Security,
    pub body: Option<Value>,
    /// Whether a request must carry the body (false: it may be left out).
    pub body_required: bool,
    pub query: Vec<(&'static str, &'static str)>,
    pub responses: Vec<u16>,
}

#[derive(Debug, Clone)]
pub struct ApiDoc {
    title: String,
    version: String,
    ops: Vec<Operation>,
}

impl ApiDoc {
    pub fn new(title: &str, version: &str) -> Self {
        let mut doc = Self {
            title: title.to_string(),
            version: version.to_string(),
            ops: Vec::new(),
        };
        doc = doc
            .route("get", "/healthz", "Liveness", Security::Public, &[200])
            .route(
                "get",
                "/readyz",
                "Readiness (database reachable)",
                Security::Public,
                &[200, 503],
            )
            .route(
                "get",
                "/metrics",
                "Prometheus metrics",
                Security::Public,
                &[200],
            )
            .route(
                "get",
                "/openapi.json",
                "This document",
                Security::Public,
                &[200],
            );
        doc
    }

    pub fn route(
        mut self,
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        security: Security,
        responses: &[u16],
    ) -> Self {
        self.ops.push(Operation {
            method,
            path,
            summary,
            security,
            body: None,
            body_required: true,
            query: Vec::new(),
            responses: responses.to_vec(),
        });
        self
    }

    /// Sets the JSON schema of the last route's request body.
    pub fn body(mut self, schema: Value) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.body = Some(schema);
        }
        self
    }

    /// Sets the JSON schema of the last route's request body, which may be left out.
    pub fn optional_body(mut self, schema: Value) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.body = Some(schema);
            op.body_required = false;
        }
        self
    }

    /// Adds a query parameter (name, description) to the last route.
    pub fn query(mut self, name: &'static str, description: &'static str) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.query.push((name, description));
        }
        self
    }

    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// Statuses a route answers whatever its handler does, from the kit's extractors and
    /// [`crate::edge`]: a body that is not JSON (400), too large (413), without its content
    /// type (415) or not of the schema (422); a query string that does not parse (400); a
    /// secured route without a valid token (401).
    pub fn to_json(&self) -> Value {
        let mut paths = Map::new();
        for op in &self.ops {
            let mut params: Vec<Value> = op
                .path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            params.extend(op.query.iter().map(|(name, desc)| {
                json!({"name": name, "in": "query", "required": false, "description": desc, "schema": {"type": "string"}})
            }));
            if op.method == "post" && op.security == Security::User {
                params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string"}}));
            }
            let mut responses = Map::new();
            for code in op.responses.iter().chain(&implied_responses(op)) {
                let desc = if *code < 400 { "Success" } else { "Problem" };
                let media = if *code < 400 {
                    "application/json"
                } else {
                    crate::problem::CONTENT_TYPE
                };
                let schema = if *code < 400 {
                    json!({"type": "object"})
                } else {
                    json!({"$ref": "#/components/schemas/Problem"})
                };
                responses.insert(
                    code.to_string(),
                    json!({"description": desc, "content": {media: {"schema": schema}}}),
                );
            }
            let security = match op.security {
                Security::Public => json!([]),
                Security::User | Security::Admin => json!([{"bearerJwt": []}]),
                Security::Service => json!([{"serviceToken": []}]),
                Security::ServiceOrAdmin => json!([{"serviceToken": []}, {"bearerJwt": []}]),
                Security::Signature => json!([{"webhookSignature": []}]),
            };
            let mut operation = json!({
                "summary": op.summary,
                "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}', '.', '-'], "_")),
                "parameters": params,
                "responses": responses,
                "security": security,
            });
            if op.security == Security::Admin {
                operation["x-required-role"] = json!("admin");
            }
            if let Some(schema) = &op.body {
                operation["requestBody"] = json!({"required": op.body_required, "content": {"application/json": {"schema": schema}}});
            }
            let entry = paths
                .entry(op.path.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            entry[op.method] = operation;
        }
        json!({
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "securitySchemes": {
                    "bearerJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                    "serviceToken": {"type": "http", "scheme": "bearer", "description": "platform service token"},
                    "webhookSignature": {"type": "apiKey", "in": "header", "name": "X-Signature"}
                },
                "schemas": {
                    "Problem": {
                        "type": "object",
                        "required": ["type", "title", "status", "code"],
                        "properties": {
                            "type": {"type": "string"}, "title": {"type": "string"},
                            "status": {"type": "integer"}, "detail": {"type": "string"},
                            "code": {"type": "string"}
                        }
                    }
                }
            }
        })
    }
}

fn implied_responses(op: &Operation) -> Vec<u16> {
    let mut codes = Vec::new();
    if op.body.is_some() {
        codes.extend([400, 413, 415, 422]);
    }
    if !op.query.is_empty() {
        codes.push(400);
    }
    if op.security != Security::Public {
        codes.push(401);
    }
    codes.retain(|c| !op.responses.contains(c));
    codes.sort_unstable();
    codes.dedup();
    codes
}
