//! HTML, rendered by maud (compiled templates; every interpolation is escaped).

pub mod account;
pub mod catalog;
mod layout;

use axum::http::StatusCode;
use axum::response::Html;
use maud::{html, Markup};

pub use layout::{page, Chrome};

use crate::money;

pub fn price(minor: i64, currency: &str) -> Markup {
    html! { span.price { (money::format(minor, currency)) } }
}

/// The image URL of a product (a generated placeholder, see `images`).
pub fn image_url(sku: &str) -> String {
    format!("/images/{}.svg", crate::images::safe_sku(sku))
}

pub fn error_page(status: StatusCode, title: &str, text: &str) -> Html<String> {
    let chrome = Chrome::anonymous();
    page(
        &chrome,
        title,
        html! {
            section.notice role="alert" {
                h1 { (title) }
                p { (text) }
                p.muted { "Error " (status.as_u16()) }
                p { a.button href="/" { "Back to the shop" } }
            }
        },
    )
}
