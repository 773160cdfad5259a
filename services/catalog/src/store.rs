//! Products and categories in PostgreSQL: lookups and writes (lists and searches: [`crate::list`]).

use chrono::{DateTime, Utc};
use ecom_shared::openapi::not_null;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::CatalogError;
pub use crate::list::{facets, featured, list, Cursor, Filter, Sort};

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
