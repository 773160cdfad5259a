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
    /// A calling service's own token from login (for this service, with the route's scope).
    Service,
    /// A service token with the route's scope, or a user JWT with the `admin` role.
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
    /// Query parameters: name, description, JSON schema, required.
    pub query: Vec<Param>,
    /// Schemas of path parameters that are not any string (a UUID, a SKU's pattern).
    pub path_schemas: Vec<(&'static str, Value)>,
    /// Header parameters: name, description, JSON schema, required.
    pub headers: Vec<Param>,
    /// The media type of the success answers (`application/json` unless set).
    pub produces: &'static str,
    /// The media type of the request body (`application/json` unless set).
    pub consumes: &'static str,
    /// A page for people (the storefront): its answers, errors too, are HTML pages; only the
    /// kit's extractors still answer problem+json.
    pub page: bool,
    pub responses: Vec<u16>,
}

/// A query or header parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
    pub required: bool,
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
            .produces("text/plain")
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
        let headers = if method == "post" && security == Security::User {
            vec![idempotency_key(false)]
        } else {
            Vec::new()
        };
        self.ops.push(Operation {
            method,
            path,
            summary,
            security,
            body: None,
            body_required: true,
            query: Vec::new(),
            path_schemas: Vec::new(),
            headers,
            produces: "application/json",
            consumes: "application/json",
            page: false,
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

    /// Adds an optional string query parameter (name, description) to the last route.
    pub fn query(self, name: &'static str, description: &'static str) -> Self {
        self.query_schema(name, description, json!({"type": "string"}), false)
    }

    /// Adds a query parameter of the given JSON schema to the last route.
    pub fn query_schema(
        mut self,
        name: &'static str,
        description: &'static str,
        schema: Value,
        required: bool,
    ) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.query.push(Param {
                name,
                description,
                schema,
                required,
            });
        }
        self
    }

    /// Sets the JSON schema of one of the last route's path parameters (a value outside it
    /// is answered 422, which the document then lists).
    pub fn path_schema(mut self, name: &'static str, schema: Value) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.path_schemas.push((name, schema));
        }
        self
    }

    /// Adds a header parameter of the given JSON schema to the last route (replacing one of
    /// the same name, such as the optional `Idempotency-Key` of a customer's POST).
    pub fn header(
        mut self,
        name: &'static str,
        description: &'static str,
        schema: Value,
        required: bool,
    ) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
            op.headers.push(Param {
                name,
                description,
                schema,
                required,
            });
        }
        self
    }

    /// Sets the media type of the last route's success answers (e.g. `text/html`).
    pub fn produces(mut self, media: &'static str) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.produces = media;
        }
        self
    }

    /// Makes the last route a page: HTML answers, errors as HTML pages (or problem+json from
    /// the kit's extractors).
    pub fn page(mut self) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.produces = "text/html";
            op.page = true;
        }
        self
    }

    /// Sets the media type of the last route's request body (e.g. a form's
    /// `application/x-www-form-urlencoded`).
    pub fn consumes(mut self, media: &'static str) -> Self {
        if let Some(op) = self.ops.last_mut() {
            op.consumes = media;
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
                .map(|name| {
                    let schema = op
                        .path_schemas
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or_else(|| json!({"type": "string"}), |(_, s)| s.clone());
                    json!({"name": name, "in": "path", "required": true, "schema": schema})
                })
                .collect();
            let param = |p: &Param, place: &str| json!({"name": p.name, "in": place, "required": p.required, "description": p.description, "schema": p.schema});
            params.extend(op.query.iter().map(|p| param(p, "query")));
            params.extend(op.headers.iter().map(|p| param(p, "header")));
            let mut responses = Map::new();
            for code in op.responses.iter().chain(&implied_responses(op)) {
                let desc = if *code < 400 { "Success" } else { "Problem" };
                let answer = if *code == 204 || (300..400).contains(code) {
                    // No body (a redirect's body is not part of the contract).
                    json!({"description": desc})
                } else if *code < 400 {
                    let schema = if op.produces == "application/json" {
                        json!({"type": "object"})
                    } else {
                        json!({"type": "string"})
                    };
                    json!({"description": desc, "content": {op.produces: {"schema": schema}}})
                } else if op.page {
                    json!({"description": desc, "content": {
                        "text/html": {"schema": {"type": "string"}},
                        crate::problem::CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}})
                } else {
                    json!({"description": desc, "content": {crate::problem::CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}})
                };
                responses.insert(code.to_string(), answer);
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
                operation["requestBody"] = json!({"required": op.body_required, "content": {op.consumes: {"schema": schema}}});
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
                    "serviceToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "a calling service's own short-lived token from login (POST /v1/service-tokens), for this service's audience, with the route's scope"},
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

/// The `Idempotency-Key` header: 1 to 200 printable ASCII characters.
pub fn idempotency_key(required: bool) -> Param {
    Param {
        name: "Idempotency-Key",
        description: "the request's key: a repeat with the same key gets the first answer",
        schema: json!({"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"}),
        required,
    }
}

/// For an optional field of a request body (`#[serde(default, deserialize_with =
/// "ecom_shared::openapi::not_null")]`): left out it is `None`, but `null` is refused like any
/// other value of the wrong type, as the documents say (they never allow `null`).
pub fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Whether a header value is an `Idempotency-Key` as documented by [`idempotency_key`].
pub fn is_idempotency_key(k: &str) -> bool {
    (1..=200).contains(&k.len()) && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn implied_responses(op: &Operation) -> Vec<u16> {
    let mut codes = Vec::new();
    if op.body.is_some() {
        codes.extend([400, 413, 415, 422]);
    }
    if !op.query.is_empty() {
        codes.push(400);
    }
    if !op.path_schemas.is_empty() || op.headers.iter().any(|h| h.required) {
        codes.push(422);
    }
    if op.security != Security::Public {
        codes.push(401);
    }
    // A service token without the route's scope (or a user's token where a service's is
    // needed) is refused.
    if matches!(op.security, Security::Service | Security::ServiceOrAdmin) {
        codes.push(403);
    }
    codes.retain(|c| !op.responses.contains(c));
    codes.sort_unstable();
    codes.dedup();
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_say_what_is_answered_and_what_is_refused() {
        let doc = ApiDoc::new("demo", "1")
            .route(
                "delete",
                "/v1/things/{id}",
                "Delete",
                Security::User,
                &[204, 404],
            )
            .path_schema("id", json!({"type": "string", "format": "uuid"}))
            .route("post", "/v1/pay", "Pay", Security::User, &[201])
            .header("Idempotency-Key", "key", idempotency_key(true).schema, true)
            .body(json!({"type": "object", "additionalProperties": false}))
            .route("get", "/page", "A page", Security::Public, &[200, 404])
            .page()
            .query_schema("n", "a number", json!({"type": "integer"}), true)
            .to_json();
        let del = &doc["paths"]["/v1/things/{id}"]["delete"];
        // No body with a 204; a checked path parameter is refused with 422, documented.
        assert!(del["responses"]["204"].get("content").is_none());
        assert!(del["responses"]["422"]["content"]["application/problem+json"].is_object());
        assert_eq!(del["parameters"][0]["schema"]["format"], "uuid");
        let pay = &doc["paths"]["/v1/pay"]["post"];
        let key = &pay["parameters"][0];
        assert_eq!(
            (key["name"].as_str(), key["required"].as_bool()),
            (Some("Idempotency-Key"), Some(true))
        );
        assert_eq!(
            pay["parameters"].as_array().map(Vec::len),
            Some(1),
            "one key header"
        );
        let page = &doc["paths"]["/page"]["get"];
        assert!(page["responses"]["200"]["content"]["text/html"].is_object());
        assert!(page["responses"]["404"]["content"]["text/html"].is_object());
        assert!(
            page["responses"]["400"].is_object(),
            "a query string that does not parse"
        );
        let metrics = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
        assert!(metrics["text/plain"].is_object());
    }

    #[test]
    fn optional_fields_refuse_null_and_keys_are_printable() {
        #[derive(serde::Deserialize, Debug)]
        struct Body {
            #[serde(default, deserialize_with = "not_null")]
            n: Option<i32>,
        }
        let read = |s: &str| serde_json::from_str::<Body>(s).map(|b| b.n);
        assert_eq!(read("{}").ok(), Some(None));
        assert_eq!(read(r#"{"n": 3}"#).ok(), Some(Some(3)));
        assert!(read(r#"{"n": null}"#).is_err());
        assert!(is_idempotency_key("order-1"));
        for bad in ["", "a b", " a", "é", &"k".repeat(201)] {
            assert!(!is_idempotency_key(bad), "{bad:?}");
        }
    }
}
