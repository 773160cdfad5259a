//! The last word on every answer: security headers, and problem+json for every error.
//!
//! Handlers answer errors as [`Problem`]s already. What they do not control are the answers
//! axum's extractors and routers make on their own: a body that is not JSON or not of the
//! expected shape (their text echoes the offending input, e.g. a card number sent as a JSON
//! number), a query string that does not parse, a missing content type (415), a body over the
//! limit (413), a method the route does not answer (405). [`errors_as_problems`] turns each of
//! those into a problem whose detail names at most the field and the expected type, never the
//! value sent, and adds `X-Content-Type-Options: nosniff` to every answer.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::{Problem, CONTENT_TYPE as PROBLEM};

/// Most of an error body read to describe it (axum's rejection texts are short).
const READ_AT_MOST: usize = 16 * 1024;

pub async fn errors_as_problems(req: Request, next: Next) -> Response {
    let mut res = match whole_numbers(req).await {
        Ok(req) => next.run(req).await,
        Err(too_large) => too_large,
    };
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(&res) || is_page(&res)
    {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, READ_AT_MOST)
        .await
        .unwrap_or_default();
    let problem = problem_for(status, &String::from_utf8_lossy(&text));
    let mut out = problem.into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Most of a JSON request body read to rewrite its whole numbers (axum's default body limit;
/// no route takes more).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// JSON Schema's `integer` (what the documents say) is any number without a fraction: `2.0`
/// is as much an integer as `2`, but serde's integer types take only the second. A JSON
/// request body's whole numbers written with a fraction or an exponent (within 2^53, where a
/// double is exact) are rewritten as integers before a handler reads the body, so what the
/// document calls valid is read as valid. Other bodies pass as they are.
async fn whole_numbers(req: Request) -> Result<Request, Response> {
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return Err(problem_for(StatusCode::PAYLOAD_TOO_LARGE, "").into_response());
    };
    // Parsed only when a digit is followed by a point or an exponent somewhere (rarely, in
    // the services' bodies), so most bodies pass without a second parse.
    let rewritten = bytes
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && matches!(w[1], b'.' | b'e' | b'E'))
        .then(|| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .flatten()
        .and_then(|mut v| whole_floats_as_integers(&mut v).then(|| serde_json::to_vec(&v).ok()))
        .flatten();
    let body = match rewritten {
        Some(b) => Body::from(b),
        None => Body::from(bytes),
    };
    let mut req = Request::from_parts(parts, body);
    req.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(req)
}

/// Rewrites whole floats (`2.0`, `1e3`) within 2^53 as integers; whether any was.
fn whole_floats_as_integers(v: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => {
                *v = Value::from(f as i64);
                true
            }
            _ => false,
        },
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, i| whole_floats_as_integers(i) | any),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |any, i| whole_floats_as_integers(i) | any),
        _ => false,
    }
}

fn is_problem(res: &Response<Body>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM))
}

/// An HTML error page a handler rendered on purpose (the storefront's friendly pages): kept as
/// it is. axum's own rejections are text/plain.
fn is_page(res: &Response<Body>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// The problem for an error axum answered itself, from its status and text.
pub fn problem_for(status: StatusCode, text: &str) -> Problem {
    match status.as_u16() {
        405 => Problem::new(status, "method-not-allowed", "Method not allowed")
            .detail("this route does not answer this method (see the Allow header)"),
        413 => Problem::new(status, "too-large", "Request too large")
            .detail("the body is larger than this route accepts"),
        415 => Problem::new(status, "unsupported-media-type", "Unsupported media type")
            .detail("send the body as application/json"),
        422 if text.starts_with("Failed to deserialize the JSON body") => {
            Problem::validation(describe_data_error(text))
        }
        400 if text.starts_with("Failed to parse the request body as JSON") => {
            Problem::new(status, "malformed-json", "Malformed JSON")
                .detail("the body is not valid JSON")
        }
        400 if text.starts_with("Failed to deserialize query string") => {
            Problem::new(status, "bad-query", "Bad query string")
                .detail("the query string does not match this route's parameters")
        }
        400 if text.starts_with("Invalid URL") || text.starts_with("Wrong number") => {
            Problem::new(status, "bad-path", "Bad path").detail("the path does not match the route")
        }
        s if s < 500 => Problem::new(
            status,
            "bad-request",
            status.canonical_reason().unwrap_or("Bad request"),
        ),
        _ => Problem::internal(),
    }
}

/// Where a JSON body went wrong and how, in words that never repeat what was sent: the path
/// of the field (made of the type's own field names) and what was expected of it.
fn describe_data_error(text: &str) -> String {
    let rest = text
        .split_once("target type: ")
        .map(|(_, r)| r)
        .unwrap_or("");
    let (path, msg) = match rest.split_once(": ") {
        Some((p, m)) if is_path(p) => (p, m),
        _ => (".", rest),
    };
    // For an unknown field the path ends with the field's name, which is the client's text.
    let path = if msg.starts_with("unknown field") {
        path.rsplit_once('.').map_or(".", |(parent, _)| parent)
    } else {
        path
    };
    let field = if path == "." || path.is_empty() {
        "the body".to_string()
    } else {
        format!("`{path}`")
    };
    let expected = msg
        .split_once(", expected ")
        .map(|(_, e)| safe_words(e))
        .filter(|e| !e.is_empty());
    let what = if let Some(name) = msg.strip_prefix("missing field `") {
        let name = name.split('`').next().unwrap_or("");
        return if is_path(name) {
            format!("{field}: field `{name}` is required")
        } else {
            format!("{field}: a required field is missing")
        };
    } else if msg.starts_with("unknown field") {
        "has a field that is not allowed"
    } else if msg.starts_with("invalid type") {
        "has the wrong type"
    } else if msg.starts_with("invalid value") || msg.starts_with("invalid length") {
        "has a value that is not allowed"
    } else if msg.starts_with("duplicate field") {
        "has a field twice"
    } else {
        "does not match the expected shape"
    };
    match expected {
        Some(e) => format!("{field} {what} (expected {e})"),
        None => format!("{field} {what}"),
    }
}

fn is_path(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 200
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'))
}

/// The "expected ..." part of a serde message (the type's own words), cut at the location
/// suffix and at anything that is not plain words, so no input can ride along.
fn safe_words(e: &str) -> String {
    let e = e.split(" at line ").next().unwrap_or("");
    let e = e.split(':').next().unwrap_or("");
    e.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '`' | ',' | '-'))
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers_and_nothing_else_changes() {
        let mut v = serde_json::json!({"a": 2.0, "b": [1e3, 2.5, -0.0], "c": {"d": 1e300}, "e": "2.0", "f": 7});
        assert!(whole_floats_as_integers(&mut v));
        assert_eq!(
            v,
            serde_json::json!({"a": 2, "b": [1000, 2.5, 0], "c": {"d": 1e300}, "e": "2.0", "f": 7})
        );
        let mut v = serde_json::json!({"a": 2, "b": 2.5});
        assert!(!whole_floats_as_integers(&mut v));
    }

    #[test]
    fn data_errors_name_the_field_never_the_value() {
        let t = "Failed to deserialize the JSON body into the target type: number: invalid type: \
                 integer `4242424242424242`, expected a string at line 1 column 29";
        let d = describe_data_error(t);
        assert_eq!(d, "`number` has the wrong type (expected a string)");
        let t = "Failed to deserialize the JSON body into the target type: missing field `email` \
                 at line 1 column 2";
        assert_eq!(
            describe_data_error(t),
            "the body: field `email` is required"
        );
        let t = "Failed to deserialize the JSON body into the target type: unknown field \
                 `<script>`, expected `email` or `password` at line 1 column 9";
        let d = describe_data_error(t);
        assert!(!d.contains("script"), "{d}");
        let t = "Failed to deserialize the JSON body into the target type: id: UUID parsing \
                 failed: invalid character: expected an optional prefix of `urn:uuid:` \
                 followed by [0-9a-fA-F-], found `z` at 1 at line 1 column 12";
        assert_eq!(
            describe_data_error(t),
            "`id` does not match the expected shape"
        );
    }
}
