//! Home, listing (category and search) and product pages.

use maud::{html, Markup};

use super::layout::csrf_field;
use super::{image_url, price};
use crate::backend::{Category, Product, ProductCard};

pub fn product_card(p: &ProductCard) -> Markup {
    html! {
        li.card {
            a href={"/p/" (p.slug)} {
                img src=(image_url(&p.sku)) alt=(p.name) width="320" height="240" loading="lazy";
                span.name { (p.name) }
            }
            (price(p.price_minor, &p.currency))
        }
    }
}

pub fn grid(items: &[ProductCard]) -> Markup {
    html! {
        ul.grid { @for p in items { (product_card(p)) } }
    }
}

pub fn home(featured: &[ProductCard], categories: &[Category]) -> Markup {
    html! {
        section.hero {
            h1 { "Gear for every kind of weather" }
            p { "Jackets, boots and things for home and the outdoors, picked to last." }
            a.button href="/search?q=waterproof" { "Shop waterproofs" }
        }
        (category_nav(categories, None))
        section aria-labelledby="featured-title" {
            h2 #featured-title { "Featured" }
            @if featured.is_empty() {
                p { "Nothing is featured right now." }
            } @else {
                (grid(featured))
            }
        }
    }
}

pub fn category_nav(categories: &[Category], current: Option<&str>) -> Markup {
    html! {
        nav.categories aria-label="Categories" {
            ul {
                @for c in categories {
                    li {
                        @if current == Some(c.slug.as_str()) {
                            a href={"/c/" (c.slug)} aria-current="page" { (c.name) }
                        } @else {
                            a href={"/c/" (c.slug)} { (c.name) }
                        }
                    }
                }
            }
        }
    }
}

/// A listing's query as the visitor set it (all text, echoed back into the form).
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub q: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sort: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub min: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub max: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cursor: String,
}

pub struct Listing<'a> {
    pub heading: String,
    pub action: String,
    pub params: &'a ListParams,
    pub items: &'a [ProductCard],
    pub next_cursor: Option<&'a str>,
    pub facets: Vec<(String, i64)>,
    pub categories: &'a [Category],
    pub current: Option<&'a str>,
    pub notice: Option<String>,
}

const SORTS: &[(&str, &str)] = &[
    ("", "Best match"),
    ("newest", "Newest"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
    ("name", "Name"),
];

fn filters(l: &Listing<'_>) -> Markup {
    let p = l.params;
    html! {
        form.filters method="get" action=(l.action) aria-label="Filter and sort" {
            @if l.action == "/search" {
                input type="hidden" name="q" value=(p.q);
            }
            div.field {
                label for="sort" { "Sort by" }
                select #sort name="sort" {
                    @for (value, label) in SORTS {
                        @if *value == p.sort {
                            option value=(value) selected { (label) }
                        } @else {
                            option value=(value) { (label) }
                        }
                    }
                }
            }
            div.field {
                label for="min" { "Min price (€)" }
                input #min name="min" inputmode="decimal" value=(p.min) size="6";
            }
            div.field {
                label for="max" { "Max price (€)" }
                input #max name="max" inputmode="decimal" value=(p.max) size="6";
            }
            button type="submit" { "Apply" }
        }
    }
}

fn pagination(l: &Listing<'_>) -> Markup {
    let first = {
        let mut p = l.params.clone();
        p.cursor.clear();
        format!(
            "{}?{}",
            l.action,
            serde_urlencoded::to_string(&p).unwrap_or_default()
        )
    };
    let next = l.next_cursor.map(|c| {
        let mut p = l.params.clone();
        p.cursor = c.to_string();
        format!(
            "{}?{}",
            l.action,
            serde_urlencoded::to_string(&p).unwrap_or_default()
        )
    });
    html! {
        nav.pagination aria-label="Pages" {
            @if !l.params.cursor.is_empty() {
                a href=(first) { "← First page" }
            }
            @if let Some(next) = next {
                a rel="next" href=(next) { "Next page →" }
            }
        }
    }
}

pub fn listing(l: &Listing<'_>) -> Markup {
    html! {
        (category_nav(l.categories, l.current))
        h1 { (l.heading) }
        @if let Some(n) = &l.notice {
            p.notice role="status" { (n) }
        }
        div.listing {
            aside {
                (filters(l))
                @if !l.facets.is_empty() {
                    h2.small { "In these results" }
                    ul.facets {
                        @for (cat, n) in &l.facets {
                            li { a href={"/c/" (cat)} { (cat) } " (" (n) ")" }
                        }
                    }
                }
            }
            div {
                @if l.items.is_empty() {
                    p.empty { "No products match. Try fewer words or a wider price range." }
                } @else {
                    (grid(l.items))
                }
                (pagination(l))
            }
        }
    }
}

pub fn product(p: &Product, available: Option<i32>, csrf: &str) -> Markup {
    let attrs: Vec<(String, String)> = p
        .attributes
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let in_stock = available.is_none_or(|n| n > 0);
    html! {
        nav.breadcrumbs aria-label="Breadcrumb" {
            a href="/" { "Home" }
            @if let Some(c) = &p.category {
                " / " a href={"/c/" (c)} { (c) }
            }
        }
        article.product {
            img src=(image_url(&p.sku)) alt=(p.name) width="640" height="480";
            div.details {
                h1 { (p.name) }
                p.big { (price(p.price_minor, &p.currency)) }
                p { (p.description) }
                @if !attrs.is_empty() {
                    dl.attributes {
                        @for (k, v) in &attrs { dt { (k) } dd { (v) } }
                    }
                }
                p.sku { "SKU " (p.sku) }
                @match available {
                    Some(n) if n <= 0 => p.stock.out { "Out of stock" },
                    Some(n) if n < 5 => p.stock.low { "Only " (n) " left" },
                    Some(_) => p.stock { "In stock" },
                    None => p.stock.muted { "Availability shown at checkout" },
                }
                form.buy method="post" action="/cart/items" {
                    (csrf_field(csrf))
                    input type="hidden" name="sku" value=(p.sku);
                    div.field {
                        label for="quantity" { "Quantity" }
                        input #quantity type="number" name="quantity" value="1" min="1" max="100" required;
                    }
                    @if in_stock {
                        button.primary type="submit" { "Add to cart" }
                    } @else {
                        button.primary type="submit" disabled { "Add to cart" }
                    }
                }
            }
        }
    }
}
