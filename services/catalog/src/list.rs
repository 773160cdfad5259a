//! Lists and searches: filters, sorts, keyset pagination, facet counts.
//!
//! Every answer is built from the documents the database rendered when each product was
//! written (`products.doc`), never from columns read and serialised here.
//! - A list without filters walks the sort's index on `products`, which holds the document (an
//!   index-only scan once vacuum has marked the pages all-visible), and stops after a page.
//! - A search ranks every match, and a filtered list (category, price) skips the entries that
//!   fail its filter: both find their page in the narrow `product_search` table and its
//!   indexes, then read the wide documents of that page only; all in one statement.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::CatalogError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Newest,
    PriceAsc,
    PriceDesc,
    Name,
    Relevance,
}

impl Sort {
    pub fn parse(s: Option<&str>, has_query: bool) -> Result<Self, CatalogError> {
        Ok(match s {
            None if has_query => Sort::Relevance,
            None | Some("newest") => Sort::Newest,
            Some("price_asc") => Sort::PriceAsc,
            Some("price_desc") => Sort::PriceDesc,
            Some("name") => Sort::Name,
            // Without a query there is nothing to rank by: newest first.
            Some("relevance") if has_query => Sort::Relevance,
            Some("relevance") => Sort::Newest,
            Some(_) => {
                return Err(CatalogError::Invalid(
                    "sort must be newest, price_asc, price_desc, name or relevance".into(),
                ))
            }
        })
    }

    /// The column a page is ordered by, before the id (relevance: the rank, `r`).
    fn key(self) -> &'static str {
        match self {
            Sort::PriceAsc | Sort::PriceDesc => "price_minor",
            Sort::Name => "name",
            Sort::Newest => "created_at",
            Sort::Relevance => "r",
        }
    }

    /// `ORDER BY` on the key and the id of the rows named `t`.
    fn order(self, t: &str) -> String {
        let k = self.key();
        match self {
            Sort::PriceAsc | Sort::Name => format!(" ORDER BY {t}.{k} ASC, {t}.id ASC"),
            Sort::PriceDesc | Sort::Newest => format!(" ORDER BY {t}.{k} DESC, {t}.id DESC"),
            // The rank is the page query's own output column.
            Sort::Relevance => format!(" ORDER BY r DESC, {t}.id ASC"),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub category: Option<String>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub q: Option<String>,
    pub featured: bool,
}

/// Where the previous page ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
    pub fn decode(s: &str) -> Result<Self, CatalogError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| CatalogError::BadCursor)?;
        let c: Self = serde_json::from_slice(&bytes).map_err(|_| CatalogError::BadCursor)?;
        // A hand-made cursor with a negative or absurd offset is refused here, not by the
        // database's words.
        if c.offset.is_some_and(|o| !(0..=1_000_000).contains(&o)) {
            return Err(CatalogError::BadCursor);
        }
        Ok(c)
    }

    /// The cursor after `last`, a row with the sort's key and the id.
    fn after(last: &PgRow, sort: Sort, offset: i64) -> Result<Self, sqlx::Error> {
        Ok(Cursor {
            price: matches!(sort, Sort::PriceAsc | Sort::PriceDesc)
                .then(|| last.try_get("price_minor"))
                .transpose()?,
            name: (sort == Sort::Name)
                .then(|| last.try_get("name"))
                .transpose()?,
            created: (sort == Sort::Newest)
                .then(|| last.try_get("created_at"))
                .transpose()?,
            offset: (sort == Sort::Relevance).then_some(offset),
            id: last.try_get("id")?,
        })
    }
}

/// The filter's conditions on rows `p` of `products` or `product_search` (both have every
/// column filtered on); with a search, the statement must also have the parsed query `q` in
/// its `FROM` (see [`push_query`]).
fn push_filters(qb: &mut QueryBuilder<'_, Postgres>, f: &Filter) {
    qb.push(" WHERE p.active");
    if let Some(c) = &f.category {
        // The category and its children, found first: no join per product.
        qb.push(" AND p.category_id IN (SELECT id FROM categories WHERE slug = ")
            .push_bind(c.clone());
        qb.push(" OR parent_id = (SELECT id FROM categories WHERE slug = ")
            .push_bind(c.clone())
            .push("))");
    }
    if let Some(min) = f.min_price {
        qb.push(" AND p.price_minor >= ").push_bind(min);
    }
    if let Some(max) = f.max_price {
        qb.push(" AND p.price_minor <= ").push_bind(max);
    }
    if f.q.is_some() {
        // The query parsed once, in `q` (see [`push_query`]).
        qb.push(" AND p.search @@ q.q");
    }
    if f.featured {
        qb.push(" AND p.featured_rank IS NOT NULL");
    }
}

/// `q AS MATERIALIZED (...), ` for a statement with a search: the query parsed once and joined
/// as `q`. Written inline, a generic plan (the statement is planned once per connection) would
/// parse the query again for every row it ranks: measured, 4 times the ranking's cost. (With
/// `DB_GENERIC_PLANS=false` the planner no longer sees the query's words when it estimates
/// how many rows match; the text index is used either way.)
fn push_query(qb: &mut QueryBuilder<'_, Postgres>, q: &str) {
    qb.push("q AS MATERIALIZED (SELECT websearch_to_tsquery('english', ")
        .push_bind(q.to_string())
        .push(") AS q), ");
}

/// ` FROM product_search p`, and the parsed query `q` with a search (see [`push_query`]).
fn push_narrow_from(qb: &mut QueryBuilder<'_, Postgres>, f: &Filter) {
    qb.push(" FROM product_search p");
    if f.q.is_some() {
        qb.push(", q");
    }
}

/// Rows after the cursor, in the sort's order (relevance pages by offset instead).
fn push_after(
    qb: &mut QueryBuilder<'_, Postgres>,
    sort: Sort,
    c: &Cursor,
) -> Result<(), CatalogError> {
    let bad = || CatalogError::BadCursor;
    let op = match sort {
        Sort::PriceAsc | Sort::Name => ">",
        Sort::PriceDesc | Sort::Newest => "<",
        Sort::Relevance => return Ok(()),
    };
    qb.push(format_args!(" AND (p.{}, p.id) {op} (", sort.key()));
    match sort {
        Sort::PriceAsc | Sort::PriceDesc => qb.push_bind(c.price.ok_or_else(bad)?),
        Sort::Name => qb.push_bind(c.name.clone().ok_or_else(bad)?),
        _ => qb.push_bind(c.created.ok_or_else(bad)?),
    };
    qb.push(", ").push_bind(c.id).push(")");
    Ok(())
}

/// One page of products (each the document the API answers, rendered by the database when
/// the product was written) and the cursor of the next page.
pub async fn list(
    pool: &PgPool,
    f: &Filter,
    sort: Sort,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<(Vec<String>, Option<String>), CatalogError> {
    let offset = cursor.and_then(|c| c.offset).unwrap_or(0);
    let key = sort.key();
    let narrow =
        f.q.is_some() || f.category.is_some() || f.min_price.is_some() || f.max_price.is_some();
    let mut qb: QueryBuilder<'_, Postgres> = if !narrow {
        let mut qb = QueryBuilder::new(format!("SELECT p.doc, p.id, p.{key} FROM products p"));
        push_filters(&mut qb, f);
        qb
    } else if let Some(q) = &f.q {
        // Every match, found through the text index (and ranked), then the page of them: a
        // plan made once for any query must not walk a sort's index testing each row against
        // a query it cannot know to be rare.
        let mut qb = QueryBuilder::new("WITH ");
        push_query(&mut qb, q);
        qb.push("m AS MATERIALIZED (SELECT p.id, ");
        if sort == Sort::Relevance {
            qb.push("ts_rank(p.search, q.q) AS r");
        } else {
            qb.push(format_args!("p.{key}"));
        }
        push_narrow_from(&mut qb, f);
        push_filters(&mut qb, f);
        qb.push(format_args!(
            "), top AS (SELECT p.id, p.{key} FROM m p WHERE true"
        ));
        qb
    } else {
        // The page's ids found in the narrow table, then their documents.
        let mut qb = QueryBuilder::new(format!("WITH top AS (SELECT p.id, p.{key}"));
        push_narrow_from(&mut qb, f);
        push_filters(&mut qb, f);
        qb
    };
    if let Some(c) = cursor {
        push_after(&mut qb, sort, c)?;
    }
    qb.push(sort.order("p"));
    qb.push(" LIMIT ").push_bind(limit + 1);
    if sort == Sort::Relevance {
        qb.push(" OFFSET ").push_bind(offset);
    }
    if narrow {
        qb.push(format_args!(
            ") SELECT d.doc, top.id, top.{key} FROM top JOIN products d ON d.id = top.id"
        ));
        qb.push(sort.order("top"));
    }
    let rows = qb.build().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    let shown = &rows[..rows.len().min(limit as usize)];
    let next = match shown.last() {
        Some(last) if more => Some(Cursor::after(last, sort, offset + limit)?.encode()),
        _ => None,
    };
    let docs = shown
        .iter()
        .map(|r| r.try_get("doc"))
        .collect::<Result<Vec<String>, _>>()?;
    Ok((docs, next))
}

/// Product counts per category for the filter (ignoring its category). Without a search,
/// price or featured filter these are the counts the triggers keep; otherwise the matches are
/// counted per category id in the narrow table, and named after.
pub async fn facets(pool: &PgPool, f: &Filter) -> Result<Value, CatalogError> {
    let mut f = f.clone();
    f.category = None;
    let unfiltered = f.q.is_none() && f.min_price.is_none() && f.max_price.is_none() && !f.featured;
    let mut qb: QueryBuilder<'_, Postgres> = if unfiltered {
        QueryBuilder::new("WITH n AS (SELECT category_id, n FROM category_counts WHERE n > 0)")
    } else {
        let mut qb = QueryBuilder::new("WITH ");
        if let Some(q) = &f.q {
            push_query(&mut qb, q);
        }
        qb.push("n AS (SELECT p.category_id, count(*) AS n");
        push_narrow_from(&mut qb, &f);
        push_filters(&mut qb, &f);
        qb.push(" GROUP BY p.category_id)");
        qb
    };
    qb.push(
        " SELECT c.slug AS category, n.n FROM n LEFT JOIN categories c ON c.id = n.category_id",
    );
    let rows = qb.build().fetch_all(pool).await?;
    let mut out = serde_json::Map::new();
    for r in rows {
        let cat: Option<String> = r.try_get("category")?;
        let n: i64 = r.try_get("n")?;
        out.insert(
            cat.unwrap_or_else(|| "uncategorised".into()),
            Value::from(n),
        );
    }
    Ok(serde_json::json!({"categories": out}))
}

/// The featured products' documents, in rank order.
pub async fn featured(pool: &PgPool, limit: i64) -> Result<Vec<String>, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT doc FROM products WHERE active AND featured_rank IS NOT NULL
         ORDER BY featured_rank, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
