//! The demo catalog: a few categories and `n` products with SKUs `DEMO-0001`...; idempotent.

use sqlx::PgPool;

use crate::error::CatalogError;

const CATEGORIES: &[(&str, &str, Option<&str>)] = &[
    ("clothing", "Clothing", None),
    ("jackets", "Jackets", Some("clothing")),
    ("shirts", "Shirts", Some("clothing")),
    ("footwear", "Footwear", None),
    ("home", "Home", None),
    ("outdoors", "Outdoors", None),
];

pub async fn seed_demo(pool: &PgPool, n: i32) -> Result<u64, CatalogError> {
    let mut tx = pool.begin().await?;
    for (slug, name, parent) in CATEGORIES {
        sqlx::query(
            "INSERT INTO categories (id, slug, name, parent_id)
             VALUES (gen_random_uuid(), $1, $2, (SELECT id FROM categories WHERE slug = $3))
             ON CONFLICT (slug) DO NOTHING",
        )
        .bind(slug)
        .bind(name)
        .bind(parent)
        .execute(&mut *tx)
        .await?;
    }
    let inserted = sqlx::query(
        "INSERT INTO products (id, sku, slug, name, description, category_id, price_minor, currency,
                               featured_rank, attributes, created_at)
         SELECT gen_random_uuid(),
                'DEMO-' || lpad(i::text, 4, '0'),
                lower(adj) || '-' || lower(noun) || '-' || i,
                adj || ' ' || noun,
                'A ' || lower(adj) || ' ' || lower(noun) || ' made of ' || material || '. ' ||
                    CASE WHEN i % 3 = 0 THEN 'Waterproof and breathable. ' ELSE '' END ||
                    'Demo product number ' || i || '.',
                (SELECT id FROM categories WHERE slug = cat),
                (500 + (i * 7919) % 49500)::bigint,
                'EUR',
                CASE WHEN i <= 8 THEN i END,
                jsonb_build_object('material', material, 'colour', colour),
                now() - make_interval(mins => i)
         FROM (
             SELECT i,
                    (ARRAY['Alpine','Coastal','Urban','Classic','Rugged','Light','Merino','Heritage'])[1 + i % 8] AS adj,
                    (ARRAY['Jacket','Shirt','Boot','Lamp','Tent','Blanket','Sneaker','Parka'])[1 + (i / 8) % 8] AS noun,
                    (ARRAY['organic cotton','recycled nylon','wool','leather','linen'])[1 + i % 5] AS material,
                    (ARRAY['black','navy','olive','sand','red'])[1 + (i / 5) % 5] AS colour,
                    (ARRAY['jackets','shirts','footwear','home','outdoors'])[1 + (i / 8) % 5] AS cat
             FROM generate_series(1, $1) AS i
         ) AS g
         ON CONFLICT DO NOTHING",
    )
    .bind(n)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    if inserted > 0 {
        // Fresh statistics for the planner, and the pages marked all-visible so that lists
        // are index-only scans from the first request (autovacuum would get there later).
        sqlx::raw_sql("VACUUM (ANALYZE) products, product_search, category_counts")
            .execute(pool)
            .await?;
    }
    Ok(inserted)
}
