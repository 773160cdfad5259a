//! The cart: kept in the session for a visitor who has not signed in, in orders for one who
//! has; merged into the account's cart at sign-in.

use axum::extract::{Path, State};
use axum::response::{Html, Response};
use axum::Form;
use serde::Deserialize;

use crate::backend::{Call, CartItem};
use crate::error::PageError;
use crate::routes::{access_token, check_csrf, see_other};
use crate::session::{self, Visitor};
use crate::views::account::{self as view, CartLine};
use crate::views::{page, Chrome};
use crate::AppState;

const MAX_QUANTITY: i32 = 100;
const MAX_LINES: usize = 50;

fn valid_sku(sku: &str) -> bool {
    !sku.is_empty()
        && sku.len() <= 64
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The visitor's cart as it stands (orders' for a signed-in visitor).
pub async fn items(st: &AppState, v: &mut Visitor) -> Result<Vec<CartItem>, PageError> {
    match access_token(st, v).await? {
        Some(token) => {
            let call = Call {
                bearer: Some(&token),
                client: v.ip,
                ..Call::default()
            };
            Ok(st.backend.cart(&call).await?)
        }
        None => Ok(v.cart.clone()),
    }
}

/// Each item with the catalog's current name and price (unknown SKUs are left out).
pub async fn priced(st: &AppState, items: &[CartItem]) -> Result<Vec<CartLine>, PageError> {
    let mut lines = Vec::with_capacity(items.len());
    for i in items {
        match st.backend.price(&i.sku).await {
            Ok(p) => lines.push(CartLine {
                sku: i.sku.clone(),
                name: p.name,
                quantity: i.quantity,
                unit_price_minor: p.price_minor,
                currency: p.currency,
            }),
            Err(e) if e.status() == Some(404) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(lines)
}

pub async fn show(State(st): State<AppState>, mut v: Visitor) -> Result<Html<String>, PageError> {
    let items = items(&st, &mut v).await?;
    let lines = priced(&st, &items).await?;
    let body = view::cart(&lines, &v.csrf(), v.account.is_some());
    Ok(page(&Chrome::of(&v), "Cart", body))
}

/// Sets one SKU's quantity (0 removes it) in whichever cart the visitor has.
pub async fn set_quantity(
    st: &AppState,
    v: &mut Visitor,
    sku: &str,
    quantity: i32,
) -> Result<(), PageError> {
    if !valid_sku(sku) || !(0..=MAX_QUANTITY).contains(&quantity) {
        return Err(PageError::BadRequest(format!(
            "quantity must be 0 to {MAX_QUANTITY} of a known product"
        )));
    }
    match access_token(st, v).await? {
        Some(token) => {
            let call = Call {
                bearer: Some(&token),
                client: v.ip,
                ..Call::default()
            };
            let cart = st
                .backend
                .set_cart_item(&call, sku, quantity)
                .await
                .map_err(|e| match e.status() {
                    Some(422) => PageError::BadRequest(e.detail().to_string()),
                    _ => e.into(),
                })?;
            session::save_cart_count(&st.kit.pool, &v.sid, &cart).await?;
        }
        None => {
            let mut cart = v.cart.clone();
            cart.retain(|i| i.sku != sku);
            if quantity > 0 {
                if cart.len() >= MAX_LINES {
                    return Err(PageError::BadRequest(format!(
                        "a cart holds at most {MAX_LINES} different products"
                    )));
                }
                cart.push(CartItem {
                    sku: sku.to_string(),
                    quantity,
                });
                cart.sort_by(|a, b| a.sku.cmp(&b.sku));
            }
            session::save_anonymous_cart(&st.kit.pool, &v.sid, &cart).await?;
            v.cart = cart;
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    sku: String,
    quantity: i32,
}

pub async fn add(
    State(st): State<AppState>,
    mut v: Visitor,
    Form(f): Form<AddForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    if !valid_sku(&f.sku) || !(1..=MAX_QUANTITY).contains(&f.quantity) {
        return Err(PageError::BadRequest("quantity must be 1 to 100".into()));
    }
    // The product must exist and be on sale.
    st.backend
        .price(&f.sku)
        .await
        .map_err(PageError::from_lookup)?;
    let current = items(&st, &mut v)
        .await?
        .iter()
        .find(|i| i.sku == f.sku)
        .map_or(0, |i| i.quantity);
    let quantity = (current + f.quantity).min(MAX_QUANTITY);
    set_quantity(&st, &mut v, &f.sku, quantity).await?;
    Ok(see_other("/cart"))
}

#[derive(Debug, Deserialize)]
pub struct SetForm {
    #[serde(default)]
    csrf: String,
    quantity: i32,
}

pub async fn set(
    State(st): State<AppState>,
    mut v: Visitor,
    Path(sku): Path<String>,
    Form(f): Form<SetForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    set_quantity(&st, &mut v, &sku, f.quantity).await?;
    Ok(see_other("/cart"))
}
