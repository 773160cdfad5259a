//! Home, category, search and product pages.

use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde_json::Value;

use crate::backend::{ListQuery, ProductPage};
use crate::error::PageError;
use crate::money;
use crate::session::Visitor;
use crate::views::catalog::{self as view, ListParams, Listing};
use crate::views::{page, Chrome};
use crate::AppState;

const PAGE_SIZE: i64 = 12;

pub async fn home(State(st): State<AppState>, v: Visitor) -> Result<Html<String>, PageError> {
    let (featured, categories) = tokio::join!(st.backend.featured(), st.backend.categories());
    let body = view::home(&featured?, &categories?);
    Ok(page(&Chrome::of(&v), "Home", body))
}

fn sort_of(raw: &str, searching: bool) -> Option<&'static str> {
    match raw {
        "newest" => Some("newest"),
        "price_asc" => Some("price_asc"),
        "price_desc" => Some("price_desc"),
        "name" => Some("name"),
        _ if searching => Some("relevance"),
        _ => None,
    }
}

/// Asks the catalog for one page of a listing; prices typed wrongly are ignored, with a note.
async fn fetch(
    st: &AppState,
    category: Option<&str>,
    p: &ListParams,
) -> Result<(ProductPage, Option<String>), PageError> {
    let q = p.q.trim();
    let searching = !q.is_empty();
    let mut notice = None;
    let mut price = |raw: &str, which: &str| -> Option<i64> {
        if raw.trim().is_empty() {
            return None;
        }
        let parsed = money::parse(raw, "EUR");
        if parsed.is_none() {
            notice = Some(format!(
                "The {which} price “{raw}” is not an amount like 25 or 25.50, so it was left out."
            ));
        }
        parsed
    };
    let (min_price, max_price) = (price(&p.min, "lowest"), price(&p.max, "highest"));
    let query = ListQuery {
        category,
        q: searching.then_some(q),
        min_price,
        max_price,
        sort: sort_of(&p.sort, searching),
        limit: PAGE_SIZE,
        cursor: (!p.cursor.is_empty()).then_some(p.cursor.as_str()),
        facets: true,
    };
    match st.backend.products(&query).await {
        Ok(page) => Ok((page, notice)),
        // A cursor from an old link, or a query the catalog refuses: show the first page.
        Err(e) if e.status() == Some(422) && !p.cursor.is_empty() => {
            let query = ListQuery {
                cursor: None,
                ..query
            };
            Ok((st.backend.products(&query).await?, notice))
        }
        Err(e) if e.status() == Some(422) => Ok((
            ProductPage {
                items: Vec::new(),
                next_cursor: None,
                facets: None,
            },
            Some(format!("That search could not be run: {}", e.detail())),
        )),
        Err(e) => Err(e.into()),
    }
}

fn facet_list(facets: &Option<Value>) -> Vec<(String, i64)> {
    facets
        .as_ref()
        .and_then(|f| f["categories"].as_object())
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "uncategorised")
                .map(|(k, n)| (k.clone(), n.as_i64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn category(
    State(st): State<AppState>,
    v: Visitor,
    Path(slug): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Html<String>, PageError> {
    let categories = st.backend.categories().await?;
    let Some(cat) = categories.iter().find(|c| c.slug == slug) else {
        return Err(PageError::NotFound);
    };
    let (data, notice) = fetch(&st, Some(&slug), &p).await?;
    let body = view::listing(&Listing {
        heading: cat.name.clone(),
        action: format!("/c/{slug}"),
        params: &p,
        items: &data.items,
        next_cursor: data.next_cursor.as_deref(),
        facets: Vec::new(),
        categories: &categories,
        current: Some(&slug),
        notice,
    });
    Ok(page(&Chrome::of(&v), &cat.name, body))
}

pub async fn search(
    State(st): State<AppState>,
    v: Visitor,
    Query(p): Query<ListParams>,
) -> Result<Html<String>, PageError> {
    let q = p.q.trim().to_string();
    if q.chars().count() > 200 {
        return Err(PageError::BadRequest(
            "search terms are at most 200 characters".into(),
        ));
    }
    let ((data, notice), categories) = tokio::try_join!(fetch(&st, None, &p), async {
        st.backend.categories().await.map_err(PageError::from)
    })?;
    let heading = if q.is_empty() {
        "All products".to_string()
    } else {
        format!("Results for “{q}”")
    };
    let body = view::listing(&Listing {
        heading: heading.clone(),
        action: "/search".into(),
        params: &p,
        items: &data.items,
        next_cursor: data.next_cursor.as_deref(),
        facets: facet_list(&data.facets),
        categories: &categories,
        current: None,
        notice,
    });
    Ok(page(&Chrome::of(&v).with_query(&q), &heading, body))
}

pub async fn product(
    State(st): State<AppState>,
    v: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>, PageError> {
    if slug.len() > 128 {
        return Err(PageError::NotFound);
    }
    let p = st
        .backend
        .product(&slug)
        .await
        .map_err(PageError::from_lookup)?;
    // Availability is a nicety: a page still shows when inventory does not answer.
    let available = st.backend.availability(&p.sku).await;
    let body = view::product(&p, available, &v.csrf());
    Ok(page(&Chrome::of(&v), &p.name, body))
}
