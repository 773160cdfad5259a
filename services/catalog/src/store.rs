//! Products and categories in PostgreSQL: filters, keyset pagination, full-text search.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ecom_shared::openapi::not_null;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::CatalogError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Product {
    pub id: Uuid,
    pub sku: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub featured_rank: Option<i32>,
    pub attributes: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Category {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub parent: Option<String>,
}

const SELECT_PRODUCT: &str =
    "SELECT p.id, p.sku, p.slug, p.name, p.description, c.slug AS category,
        p.price_minor, p.currency, p.featured_rank, p.attributes, p.created_at
    FROM products p LEFT JOIN categories c ON c.id = p.category_id";

fn product(r: &sqlx::postgres::PgRow) -> Result<Product, sqlx::Error> {
    Ok(Product {
        id: r.try_get("id")?,
        sku: r.try_get("sku")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        category: r.try_get("category")?,
        price_minor: r.try_get("price_minor")?,
        currency: r.try_get("currency")?,
        featured_rank: r.try_get("featured_rank")?,
        attributes: r.try_get("attributes")?,
        created_at: r.try_get("created_at")?,
    })
}

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
}

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
    if let Some(q) = &f.q {
        qb.push(" AND p.search @@ websearch_to_tsquery('english', ")
            .push_bind(q.clone())
            .push(")");
    }
    if f.featured {
        qb.push(" AND p.featured_rank IS NOT NULL");
    }
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
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(
        "SELECT p.doc, p.price_minor, p.name, p.created_at, p.id FROM products p",
    );
    push_filters(&mut qb, f);
    let bad = || CatalogError::BadCursor;
    if let Some(c) = cursor {
        match sort {
            Sort::PriceAsc => {
                qb.push(" AND (p.price_minor, p.id) > (")
                    .push_bind(c.price.ok_or_else(bad)?);
                qb.push(", ").push_bind(c.id).push(")");
            }
            Sort::PriceDesc => {
                qb.push(" AND (p.price_minor, p.id) < (")
                    .push_bind(c.price.ok_or_else(bad)?);
                qb.push(", ").push_bind(c.id).push(")");
            }
            Sort::Name => {
                qb.push(" AND (p.name, p.id) > (")
                    .push_bind(c.name.clone().ok_or_else(bad)?);
                qb.push(", ").push_bind(c.id).push(")");
            }
            Sort::Newest => {
                qb.push(" AND (p.created_at, p.id) < (")
                    .push_bind(c.created.ok_or_else(bad)?);
                qb.push(", ").push_bind(c.id).push(")");
            }
            Sort::Relevance => {}
        }
    }
    match sort {
        Sort::PriceAsc => qb.push(" ORDER BY p.price_minor ASC, p.id ASC"),
        Sort::PriceDesc => qb.push(" ORDER BY p.price_minor DESC, p.id DESC"),
        Sort::Name => qb.push(" ORDER BY p.name ASC, p.id ASC"),
        Sort::Newest => qb.push(" ORDER BY p.created_at DESC, p.id DESC"),
        Sort::Relevance => qb
            .push(" ORDER BY ts_rank(p.search, websearch_to_tsquery('english', ")
            .push_bind(f.q.clone().unwrap_or_default())
            .push(")) DESC, p.id ASC"),
    };
    qb.push(" LIMIT ").push_bind(limit + 1);
    let offset = cursor.and_then(|c| c.offset).unwrap_or(0);
    if sort == Sort::Relevance {
        qb.push(" OFFSET ").push_bind(offset);
    }
    let rows = qb.build().fetch_all(pool).await?;
    let more = rows.len() as i64 > limit;
    let shown = &rows[..rows.len().min(limit as usize)];
    let next = match shown.last() {
        Some(last) if more => Some(
            Cursor {
                price: matches!(sort, Sort::PriceAsc | Sort::PriceDesc)
                    .then(|| last.try_get("price_minor"))
                    .transpose()?,
                name: (sort == Sort::Name)
                    .then(|| last.try_get("name"))
                    .transpose()?,
                created: (sort == Sort::Newest)
                    .then(|| last.try_get("created_at"))
                    .transpose()?,
                offset: (sort == Sort::Relevance).then_some(offset + limit),
                id: last.try_get("id")?,
            }
            .encode(),
        ),
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
/// counted per category id, and named after.
pub async fn facets(pool: &PgPool, f: &Filter) -> Result<Value, CatalogError> {
    let mut f = f.clone();
    f.category = None;
    let unfiltered = f.q.is_none() && f.min_price.is_none() && f.max_price.is_none() && !f.featured;
    let mut qb: QueryBuilder<'_, Postgres> = if unfiltered {
        QueryBuilder::new("WITH n AS (SELECT category_id, n FROM category_counts WHERE n > 0)")
    } else {
        let mut qb =
            QueryBuilder::new("WITH n AS (SELECT p.category_id, count(*) AS n FROM products p");
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

/// By id, or by slug.
pub async fn get(pool: &PgPool, id_or_slug: &str) -> Result<Product, CatalogError> {
    let row = match Uuid::parse_str(id_or_slug) {
        Ok(id) => {
            sqlx::query(&format!("{SELECT_PRODUCT} WHERE p.id = $1 AND p.active"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }
        Err(_) => {
            sqlx::query(&format!("{SELECT_PRODUCT} WHERE p.slug = $1 AND p.active"))
                .bind(id_or_slug)
                .fetch_optional(pool)
                .await?
        }
    };
    Ok(product(&row.ok_or(CatalogError::NotFound("product"))?)?)
}

/// A product's document (as the API answers it) by id or by slug.
pub async fn doc(pool: &PgPool, id_or_slug: &str) -> Result<String, CatalogError> {
    let doc: Option<String> = match Uuid::parse_str(id_or_slug) {
        Ok(id) => {
            sqlx::query_scalar("SELECT doc FROM products WHERE id = $1 AND active")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }
        Err(_) => {
            sqlx::query_scalar("SELECT doc FROM products WHERE slug = $1 AND active")
                .bind(id_or_slug)
                .fetch_optional(pool)
                .await?
        }
    };
    doc.ok_or(CatalogError::NotFound("product"))
}

/// An active SKU's price answer (sku, name, price_minor, currency), rendered at write time.
pub async fn price_doc(pool: &PgPool, sku: &str) -> Result<String, CatalogError> {
    sqlx::query_scalar("SELECT price_doc FROM products WHERE sku = $1 AND active")
        .bind(sku)
        .fetch_optional(pool)
        .await?
        .ok_or(CatalogError::NotFound("SKU"))
}

pub async fn categories(pool: &PgPool) -> Result<Vec<Category>, CatalogError> {
    let rows = sqlx::query(
        "SELECT c.id, c.slug, c.name, p.slug AS parent FROM categories c
         LEFT JOIN categories p ON p.id = c.parent_id ORDER BY c.slug",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Category {
                id: r.try_get("id")?,
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                parent: r.try_get("parent")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(CatalogError::from)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    pub slug: String,
    pub name: String,
    #[serde(default, deserialize_with = "not_null")]
    pub parent: Option<String>,
}

pub async fn create_category(pool: &PgPool, c: &NewCategory) -> Result<Category, CatalogError> {
    let id = Uuid::new_v4();
    let parent_id: Option<Uuid> = match &c.parent {
        Some(p) => Some(
            sqlx::query_scalar("SELECT id FROM categories WHERE slug = $1")
                .bind(p)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| {
                    CatalogError::Invalid(format!("parent category {p:?} does not exist"))
                })?,
        ),
        None => None,
    };
    sqlx::query("INSERT INTO categories (id, slug, name, parent_id) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(&c.slug)
        .bind(&c.name)
        .bind(parent_id)
        .execute(pool)
        .await?;
    Ok(Category {
        id,
        slug: c.slug.clone(),
        name: c.name.clone(),
        parent: c.parent.clone(),
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    #[serde(default, deserialize_with = "not_null")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub price_minor: Option<i64>,
    #[serde(default, deserialize_with = "not_null")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub featured_rank: Option<i32>,
    #[serde(default, deserialize_with = "not_null")]
    pub attributes: Option<serde_json::Map<String, Value>>,
    #[serde(default, deserialize_with = "not_null")]
    pub active: Option<bool>,
}

/// The highest price one product may have, in minor units (10 million in major units).
pub const MAX_PRICE_MINOR: i64 = 1_000_000_000;

impl ProductInput {
    /// Caps a price, so that prices times quantities stay far inside `i64` downstream.
    fn check_price(&self) -> Result<(), CatalogError> {
        match self.price_minor {
            Some(p) if !(0..=MAX_PRICE_MINOR).contains(&p) => Err(CatalogError::Invalid(format!(
                "price_minor must be 0..={MAX_PRICE_MINOR}"
            ))),
            _ => Ok(()),
        }
    }
}

async fn category_id(pool: &PgPool, slug: &Option<String>) -> Result<Option<Uuid>, CatalogError> {
    match slug {
        None => Ok(None),
        Some(s) => sqlx::query_scalar("SELECT id FROM categories WHERE slug = $1")
            .bind(s)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CatalogError::Invalid(format!("category {s:?} does not exist")))
            .map(Some),
    }
}

pub async fn create_product(pool: &PgPool, p: &ProductInput) -> Result<Product, CatalogError> {
    let need = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| CatalogError::Invalid(format!("{name} is required")))
    };
    p.check_price()?;
    let id = Uuid::new_v4();
    let cat = category_id(pool, &p.category).await?;
    sqlx::query(
        "INSERT INTO products (id, sku, slug, name, description, category_id, price_minor, currency,
                               featured_rank, attributes, active)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(need(&p.sku, "sku")?)
    .bind(need(&p.slug, "slug")?)
    .bind(need(&p.name, "name")?)
    .bind(p.description.clone().unwrap_or_default())
    .bind(cat)
    .bind(p.price_minor.ok_or_else(|| CatalogError::Invalid("price_minor is required".into()))?)
    .bind(need(&p.currency, "currency")?)
    .bind(p.featured_rank)
    .bind(Value::Object(p.attributes.clone().unwrap_or_default()))
    .bind(p.active.unwrap_or(true))
    .execute(pool)
    .await?;
    // The product as made, inactive or not (`get` answers only active ones).
    let row = sqlx::query(&format!("{SELECT_PRODUCT} WHERE p.id = $1"))
        .bind(id)
        .fetch_one(pool)
        .await?;
    Ok(product(&row)?)
}

pub async fn update_product(
    pool: &PgPool,
    id: Uuid,
    p: &ProductInput,
) -> Result<Product, CatalogError> {
    if p.sku.is_some() {
        return Err(CatalogError::Invalid("sku cannot be changed".into()));
    }
    p.check_price()?;
    let cat = category_id(pool, &p.category).await?;
    let n = sqlx::query(
        "UPDATE products SET
             slug = COALESCE($2, slug), name = COALESCE($3, name),
             description = COALESCE($4, description), category_id = COALESCE($5, category_id),
             price_minor = COALESCE($6, price_minor), currency = COALESCE($7, currency),
             featured_rank = CASE WHEN $8 THEN $9 ELSE featured_rank END,
             attributes = COALESCE($10, attributes), active = COALESCE($11, active),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&p.slug)
    .bind(&p.name)
    .bind(&p.description)
    .bind(cat)
    .bind(p.price_minor)
    .bind(&p.currency)
    .bind(p.featured_rank.is_some())
    .bind(p.featured_rank)
    .bind(p.attributes.clone().map(Value::Object))
    .bind(p.active)
    .execute(pool)
    .await?
    .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound("product"));
    }
    let row = sqlx::query(&format!("{SELECT_PRODUCT} WHERE p.id = $1"))
        .bind(id)
        .fetch_one(pool)
        .await?;
    Ok(product(&row)?)
}

/// Hides a product (orders keep referring to its SKU, so rows are never deleted).
pub async fn deactivate(pool: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let n = sqlx::query("UPDATE products SET active = false, updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(CatalogError::NotFound("product"));
    }
    Ok(())
}
