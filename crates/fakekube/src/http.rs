//! Parses HTTP requests the way the API server lays out its paths and hands them to the store.

use crate::registry::Kind;
use crate::selector::Selector;
use crate::store::{ApiError, SeenRequest, Store, WriteOpts};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type Shared = Arc<Mutex<Store>>;

fn json_response(code: u16, v: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn error(e: ApiError) -> Response {
    json_response(e.code, &e.status())
}

/// A parsed resource path.
struct Target {
    kind: Kind,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

enum Route {
    CoreVersions,
    Groups,
    Resources(String, String),
    Object(Target),
}

fn route(store: &Store, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => {
            return Err(ApiError::new(
                404,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            ))
        }
    };
    if rest.is_empty() {
        return Ok(Route::Resources(group.into(), version.into()));
    }
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns, plural, more @ ..]
            if store
                .registry
                .by_plural(group, version, plural)
                .is_some_and(|k| k.namespaced) =>
        {
            (Some(ns.to_string()), *plural, more.first(), more.get(1))
        }
        [plural, more @ ..] => (None, *plural, more.first(), more.get(1)),
        [] => unreachable!("rest is not empty"),
    };
    let kind = store
        .registry
        .by_plural(group, version, plural)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                404,
                "NotFound",
                format!("the server could not find the requested resource ({path})"),
            )
        })?;
    Ok(Route::Object(Target {
        kind,
        namespace,
        name: name.map(|s| s.to_string()),
        sub: sub.map(|s| s.to_string()),
    }))
}

fn query_map(uri: &Uri) -> HashMap<String, String> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub async fn handle(
    shared: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = query_map(&uri);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let opts = WriteOpts {
        manager: q.get("fieldManager").cloned(),
        force: q.get("force").is_some_and(|v| v == "true"),
        dry_run: q.get("dryRun").is_some_and(|v| v == "All"),
    };
    let mut store = shared.lock().expect("fake store lock");
    store.requests.push(SeenRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        content_type: content_type.clone(),
        field_manager: opts.manager.clone(),
        dry_run: opts.dry_run,
    });
    let t = match route(&store, uri.path()) {
        Ok(Route::CoreVersions) => return json_response(200, &store.registry.core_versions()),
        Ok(Route::Groups) => return json_response(200, &store.registry.group_list()),
        Ok(Route::Resources(g, v)) => {
            return match store.registry.resource_list(&g, &v) {
                Some(list) => json_response(200, &list),
                None => error(ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )),
            }
        }
        Ok(Route::Object(t)) => t,
        Err(e) => return error(e),
    };
    let ns = t.namespace.as_deref();
    let sel = match Selector::parse(
        q.get("labelSelector").map(String::as_str),
        q.get("fieldSelector").map(String::as_str),
    ) {
        Ok(s) => s,
        Err(m) => return error(ApiError::new(400, "BadRequest", m)),
    };
    let parse_body = || -> Result<Value, ApiError> {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the fake API server reads JSON bodies only: {e}"),
            )
        })
    };
    let result = match (&method, t.name.as_deref(), t.sub.as_deref()) {
        (&Method::GET, None, _) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            drop(store);
            return watch(shared, t.kind, t.namespace, sel, &q);
        }
        (&Method::GET, None, _) => Ok(store.list(&t.kind, ns, &sel)),
        (&Method::GET, Some(name), Some("log")) => {
            let key = (ns.unwrap_or("default").to_string(), name.to_string());
            let text = store.logs.get(&key).cloned().unwrap_or_default();
            let tail = q.get("tailLines").and_then(|n| n.parse::<usize>().ok());
            let lines: Vec<&str> = text.lines().collect();
            let from = tail.map(|n| lines.len().saturating_sub(n)).unwrap_or(0);
            return (StatusCode::OK, lines[from..].join("\n")).into_response();
        }
        (&Method::GET, Some(name), _) => store.get(&t.kind, ns, name),
        (&Method::POST, None, _) => {
            parse_body().and_then(|obj| store.create(&t.kind, ns, obj, &opts))
        }
        (&Method::PATCH, Some(name), sub) => {
            let status_only = sub == Some("status");
            parse_body().and_then(|patch| {
                if content_type.starts_with("application/apply-patch") {
                    store.apply(&t.kind, ns, name, patch, &opts)
                } else if content_type.starts_with("application/merge-patch+json")
                    || content_type.starts_with("application/strategic-merge-patch+json")
                {
                    store.update(
                        &t.kind,
                        ns,
                        name,
                        status_only,
                        |o| crate::ssa::merge_patch(o, &patch),
                        &opts,
                    )
                } else {
                    Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        format!("the fake API server does not take {content_type} patches"),
                    ))
                }
            })
        }
        (&Method::PUT, Some(name), sub) => {
            let status_only = sub == Some("status");
            parse_body()
                .and_then(|obj| store.update(&t.kind, ns, name, status_only, |o| *o = obj, &opts))
        }
        (&Method::DELETE, Some(name), _) => store.delete(&t.kind, ns, name, opts.dry_run),
        (&Method::DELETE, None, _) => {
            let names: Vec<String> = store.list(&t.kind, ns, &sel)["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| {
                    Some((
                        o["metadata"]["namespace"].as_str().map(String::from),
                        o["metadata"]["name"].as_str()?.to_string(),
                    ))
                })
                .map(|(n, name)| {
                    let _ = store.delete(&t.kind, n.as_deref().or(ns), &name, opts.dry_run);
                    name
                })
                .collect();
            Ok(
                serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"names": names}}),
            )
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on {}", uri.path()),
        )),
    };
    match result {
        Ok(v) => json_response(if method == Method::POST { 201 } else { 200 }, &v),
        Err(e) => error(e),
    }
}

fn watch(
    shared: Shared,
    kind: Kind,
    ns: Option<String>,
    sel: Selector,
    q: &HashMap<String, String>,
) -> Response {
    let since: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(300u64);
    let (mut rx, backlog) = {
        let store = shared.lock().expect("fake store lock");
        let rx = store.tx.subscribe();
        let backlog: Vec<_> = if since == 0 {
            // No version: start with the current objects as ADDED, as the API server does.
            let list = store.list(&kind, ns.as_deref(), &sel);
            list["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|o| (0u64, serde_json::json!({"type": "ADDED", "object": o})))
                .collect()
        } else {
            store
                .history
                .iter()
                .filter(|e| e.rv > since)
                .cloned()
                .filter_map(|e| filter_event(&kind, ns.as_deref(), &sel, &e).map(|v| (e.rv, v)))
                .collect()
        };
        (rx, backlog)
    };
    let last_backlog = backlog.iter().map(|(rv, _)| *rv).max().unwrap_or(since);
    let (tx, out) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    tokio::spawn(async move {
        for (_, ev) in backlog {
            if tx.send(Ok(Bytes::from(format!("{ev}\n")))).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                ev = rx.recv() => match ev {
                    Ok(e) if e.rv > last_backlog => {
                        if let Some(v) = filter_event(&kind, ns.as_deref(), &sel, &e) {
                            if tx.send(Ok(Bytes::from(format!("{v}\n")))).await.is_err() { return; }
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let gone = serde_json::json!({"type": "ERROR", "object": ApiError::new(410, "Expired", "too old resource version").status()});
                        let _ = tx.send(Ok(Bytes::from(format!("{gone}\n")))).await;
                        return;
                    }
                    Err(_) => return,
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(out, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn filter_event(
    kind: &Kind,
    ns: Option<&str>,
    sel: &Selector,
    e: &crate::store::WatchEvent,
) -> Option<Value> {
    (e.group == kind.group
        && e.plural == kind.plural
        && ns.is_none_or(|n| n == e.namespace)
        && sel.matches(&e.object))
    .then(|| serde_json::json!({"type": e.kind, "object": e.object}))
}
