use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ecom_shared::auth::AuthUser;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::Ordering;
use uuid::Uuid;

use crate::error::CatalogError;
use crate::store::{self, Cursor, Filter, Sort};
use crate::AppState;

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Serves a public read from the read cache (kept coherent with the database, see
/// [`crate::cache`]), or computes and stores it.
async fn cached<F>(st: &AppState, uri: &Uri, compute: F) -> Result<Response, CatalogError>
where
    F: std::future::Future<Output = Result<Bytes, CatalogError>>,
{
    let key = uri.to_string();
    if let Some(body) = st.cache.get(&key) {
        st.read_hits.fetch_add(1, Ordering::Relaxed);
        return Ok(json_bytes(body));
    }
    st.read_misses.fetch_add(1, Ordering::Relaxed);
    // Taken before the database is read: a write that lands meanwhile voids this response.
    let ticket = st.cache.ticket();
    let body = compute.await?;
    st.cache.put(key, body.clone(), ticket);
    Ok(json_bytes(body))
}

/// A typed value's JSON.
fn to_body<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

/// `{"items":[...]` from documents that are JSON already, without parsing them; the caller
/// adds the rest and the closing brace.
fn items_body(docs: &[String], extra: usize) -> String {
    let len: usize = docs.iter().map(|d| d.len() + 1).sum();
    let mut body = String::with_capacity(len + extra + 16);
    body.push_str("{\"items\":[");
    for (i, d) in docs.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(d);
    }
    body.push(']');
    body
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub category: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub featured: Option<bool>,
    pub facets: Option<bool>,
}

fn filter(q: &ListQuery) -> Result<Filter, CatalogError> {
    // At most 200 characters as sent (the document's maxLength), before trimming.
    let too_long = |s: &Option<String>| s.as_deref().is_some_and(|t| t.chars().count() > 200);
    if too_long(&q.q) || too_long(&q.category) {
        return Err(CatalogError::Invalid(
            "q and category are at most 200 characters".into(),
        ));
    }
    let text = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let controls = |s: &Option<String>| {
        s.as_deref()
            .is_some_and(|s| s.chars().any(char::is_control))
    };
    if controls(&q.q) || controls(&q.category) {
        return Err(CatalogError::Invalid(
            "q and category may not hold control characters".into(),
        ));
    }
    if q.min_price.is_some_and(|p| p < 0) || q.max_price.is_some_and(|p| p < 0) {
        return Err(CatalogError::Invalid(
            "prices are >= 0 (minor units)".into(),
        ));
    }
    Ok(Filter {
        category: q.category.clone(),
        min_price: q.min_price,
        max_price: q.max_price,
        q: text.map(str::to_string),
        featured: q.featured.unwrap_or(false),
    })
}

async fn list_value(st: &AppState, q: &ListQuery) -> Result<Bytes, CatalogError> {
    let f = filter(q)?;
    let sort = Sort::parse(q.sort.as_deref(), f.q.is_some())?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(CatalogError::Invalid("limit must be 1..=100".into()));
    }
    // An empty cursor is none (as an empty q is no query).
    let cursor = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(Cursor::decode)
        .transpose()?;
    let (docs, next) = store::list(&st.kit.pool, &f, sort, cursor.as_ref(), limit).await?;
    let facets = if q.facets.unwrap_or(false) {
        Some(store::facets(&st.kit.pool, &f).await?)
    } else {
        None
    };
    let mut body = items_body(&docs, 64);
    body.push_str(",\"next_cursor\":");
    body.push_str(&serde_json::to_string(&next).unwrap_or_else(|_| "null".into()));
    if let Some(facets) = facets {
        body.push_str(",\"facets\":");
        body.push_str(&facets.to_string());
    }
    body.push('}');
    Ok(Bytes::from(body))
}

pub async fn list(
    State(st): State<AppState>,
    uri: Uri,
    Query(q): Query<ListQuery>,
) -> Result<Response, CatalogError> {
    cached(&st, &uri, collapsed_list(&st, &q)).await
}

/// A page computed by one statement for every identical read waiting with it (see
/// [`crate::collapse`]).
async fn collapsed_list(st: &AppState, q: &ListQuery) -> Result<Bytes, CatalogError> {
    st.collapse.run(format!("{q:?}"), list_value(st, q)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub q: String,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub sort: Option<String>,
}

pub async fn search(
    State(st): State<AppState>,
    uri: Uri,
    Query(s): Query<SearchQuery>,
) -> Result<Response, CatalogError> {
    if s.q.trim().is_empty() {
        return Err(CatalogError::Invalid("q is required".into()));
    }
    let q = ListQuery {
        category: None,
        min_price: None,
        max_price: None,
        q: Some(s.q),
        sort: s.sort,
        limit: s.limit,
        cursor: s.cursor,
        featured: None,
        facets: None,
    };
    cached(&st, &uri, collapsed_list(&st, &q)).await
}

pub async fn featured(State(st): State<AppState>, uri: Uri) -> Result<Response, CatalogError> {
    cached(&st, &uri, async {
        let mut body = items_body(&store::featured(&st.kit.pool, 24).await?, 1);
        body.push('}');
        Ok(Bytes::from(body))
    })
    .await
}

pub async fn get_product(
    State(st): State<AppState>,
    uri: Uri,
    Path(id): Path<String>,
) -> Result<Response, CatalogError> {
    if id.len() > 128 {
        return Err(CatalogError::NotFound("product"));
    }
    cached(&st, &uri, async {
        let doc = st.lookups.doc(&id).await?;
        Ok(Bytes::from(doc.ok_or(CatalogError::NotFound("product"))?))
    })
    .await
}

/// Price lookup for orders: the current price of an active SKU.
pub async fn get_sku(
    State(st): State<AppState>,
    uri: Uri,
    Path(sku): Path<String>,
) -> Result<Response, CatalogError> {
    if sku.len() > 64 {
        return Err(CatalogError::NotFound("SKU"));
    }
    cached(&st, &uri, async {
        let doc = st.lookups.price_doc(&sku).await?;
        Ok(Bytes::from(doc.ok_or(CatalogError::NotFound("SKU"))?))
    })
    .await
}

pub async fn categories(State(st): State<AppState>, uri: Uri) -> Result<Response, CatalogError> {
    cached(&st, &uri, async {
        Ok(to_body(
            &json!({"items": store::categories(&st.kit.pool).await?}),
        ))
    })
    .await
}

fn admin(user: &AuthUser) -> Result<(), CatalogError> {
    user.require_role("admin")
        .map_err(|_| CatalogError::Forbidden)
}

pub async fn create_category(
    State(st): State<AppState>,
    user: AuthUser,
    Json(body): Json<store::NewCategory>,
) -> Result<Response, CatalogError> {
    admin(&user)?;
    let c = store::create_category(&st.kit.pool, &body).await?;
    st.cache.invalidate();
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

pub async fn create_product(
    State(st): State<AppState>,
    user: AuthUser,
    Json(body): Json<store::ProductInput>,
) -> Result<Response, CatalogError> {
    admin(&user)?;
    let p = store::create_product(&st.kit.pool, &body).await?;
    st.cache.invalidate();
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

fn parse_id(id: &str) -> Result<Uuid, CatalogError> {
    Uuid::parse_str(id).map_err(|_| CatalogError::Invalid("product id must be a UUID".into()))
}

pub async fn update_product(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(body): Json<store::ProductInput>,
) -> Result<Response, CatalogError> {
    admin(&user)?;
    let p = store::update_product(&st.kit.pool, parse_id(&id)?, &body).await?;
    st.cache.invalidate();
    Ok(Json(p).into_response())
}

pub async fn delete_product(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, CatalogError> {
    admin(&user)?;
    store::deactivate(&st.kit.pool, parse_id(&id)?).await?;
    st.cache.invalidate();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedBody {
    #[serde(default, deserialize_with = "ecom_shared::openapi::not_null")]
    pub products: Option<i32>,
}

pub async fn seed(
    State(st): State<AppState>,
    user: AuthUser,
    Json(body): Json<SeedBody>,
) -> Result<Response, CatalogError> {
    admin(&user)?;
    let n = body.products.unwrap_or(200);
    if !(1..=100_000).contains(&n) {
        return Err(CatalogError::Invalid("products must be 1..=100000".into()));
    }
    let inserted = crate::seed::seed_demo(&st.kit.pool, n).await?;
    st.cache.invalidate();
    Ok(Json(json!({"inserted": inserted})).into_response())
}
