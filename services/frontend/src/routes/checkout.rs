//! Checkout with a card (tokenized by payments; the number goes no further), and orders.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::backend::{Call, Card};
use crate::error::PageError;
use crate::routes::{access_token, cart, check_csrf, see_other, to_signin};
use crate::session::{self, Visitor};
use crate::views::account::{self as view, CheckoutForm};
use crate::views::{page, Chrome};
use crate::AppState;

async fn render(
    st: &AppState,
    v: &mut Visitor,
    key: &str,
    errors: Vec<String>,
    exp: (&str, &str),
) -> Result<Response, PageError> {
    let items = cart::items(st, v).await?;
    if items.is_empty() {
        return Ok(see_other("/cart"));
    }
    let lines = cart::priced(st, &items).await?;
    // The list is a help, not a need: checkout works without it.
    let cards = st.backend.test_cards().await.unwrap_or_default();
    let csrf = v.csrf();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = view::checkout(&CheckoutForm {
        lines: &lines,
        csrf: &csrf,
        key,
        cards: &cards,
        errors,
        exp_month: exp.0,
        exp_year: exp.1,
    });
    Ok((status, page(&Chrome::of(v), "Checkout", body)).into_response())
}

pub async fn show(State(st): State<AppState>, mut v: Visitor) -> Result<Response, PageError> {
    if access_token(&st, &mut v).await?.is_none() {
        return Ok(to_signin("/checkout"));
    }
    // One key per checkout form: sending the same form twice places one order.
    let key = uuid::Uuid::new_v4().to_string();
    render(&st, &mut v, &key, Vec::new(), ("12", "2030")).await
}

#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    exp_month: String,
    #[serde(default)]
    exp_year: String,
    #[serde(default)]
    cvc: String,
}

fn card(f: &PayForm) -> Result<Card, String> {
    let number: String = f.number.chars().filter(|c| !c.is_whitespace()).collect();
    if number.len() < 12 || number.len() > 19 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Enter the card number: 12 to 19 digits.".into());
    }
    let exp_month: i16 = f
        .exp_month
        .trim()
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or("Enter the expiry month as a number from 1 to 12.")?;
    let exp_year: i16 = f
        .exp_year
        .trim()
        .parse()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or("Enter the expiry year with four digits, e.g. 2030.")?;
    let cvc = f.cvc.trim().to_string();
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Enter the 3 or 4 digit security code.".into());
    }
    Ok(Card {
        number,
        exp_month,
        exp_year,
        cvc,
    })
}

pub async fn pay(
    State(st): State<AppState>,
    mut v: Visitor,
    Form(f): Form<PayForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    let Some(token) = access_token(&st, &mut v).await? else {
        return Ok(to_signin("/checkout"));
    };
    let key = match uuid::Uuid::parse_str(f.key.trim()) {
        Ok(k) => k.to_string(),
        Err(_) => {
            return Err(PageError::BadRequest(
                "the checkout form was incomplete".into(),
            ))
        }
    };
    let exp = (f.exp_month.as_str(), f.exp_year.as_str());
    let card = match card(&f) {
        Ok(c) => c,
        Err(msg) => return render(&st, &mut v, &key, vec![msg], exp).await,
    };
    // The token belongs to the signed-in customer (payments binds it to them).
    let call = Call {
        bearer: Some(&token),
        client: v.ip,
        ..Call::default()
    };
    let method = match st.backend.tokenize(&call, &card).await {
        Ok(m) => m,
        Err(e) if e.status() == Some(422) => {
            let msg = format!("The card was not accepted: {}.", e.detail());
            return render(&st, &mut v, &key, vec![msg], exp).await;
        }
        Err(e) => return Err(e.into()),
    };
    drop(card);
    let call = Call {
        bearer: Some(&token),
        client: v.ip,
        idempotency_key: Some(&key),
    };
    match st.backend.checkout(&call, &method.token).await {
        // 3-D Secure: the order page asks the customer to verify the payment.
        Ok(order) if order.action.is_some() => Ok(see_other(&format!("/orders/{}", order.id))),
        Ok(order) => {
            session::save_cart_count(&st.kit.pool, &v.sid, &[]).await?;
            Ok(see_other(&format!("/orders/{}?placed=1", order.id)))
        }
        Err(e) => {
            // A new key: the next try is a new attempt, not a replay of this one.
            let next_key = uuid::Uuid::new_v4().to_string();
            let msg = match (e.status(), e.code()) {
                (Some(402), _) => "Your card was declined, so no order was placed and nothing was charged. Try another card.".to_string(),
                (Some(409), _) => format!("Some items are no longer available in that quantity ({}). Update your cart and try again.", e.detail()),
                (Some(422), _) => format!("The order could not be placed: {}.", e.detail()),
                _ => return Err(e.into()),
            };
            render(&st, &mut v, &next_key, vec![msg], exp).await
        }
    }
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    result: String,
}

/// The customer's answer to the 3-D Secure challenge (the sandbox's verification page).
pub async fn verify(
    State(st): State<AppState>,
    mut v: Visitor,
    Path(id): Path<String>,
    Form(f): Form<VerifyForm>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    let Some(token) = access_token(&st, &mut v).await? else {
        return Ok(to_signin(&format!("/orders/{id}")));
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(PageError::NotFound);
    }
    if !matches!(f.result.as_str(), "succeeded" | "failed") {
        return Err(PageError::BadRequest(
            "the verification form was incomplete".into(),
        ));
    }
    let call = Call {
        bearer: Some(&token),
        client: v.ip,
        ..Call::default()
    };
    match st
        .backend
        .answer_challenge(&call, &id, &f.challenge_id, &f.result)
        .await
    {
        Ok(order) => {
            session::save_cart_count(&st.kit.pool, &v.sid, &[]).await?;
            Ok(see_other(&format!("/orders/{}?placed=1", order.id)))
        }
        // Not verified, or too late: nothing was charged and the cart is as it was.
        Err(e) if e.status() == Some(402) => {
            let key = uuid::Uuid::new_v4().to_string();
            let msg = if e.code() == "action-expired" {
                "The card was not verified in time, so no order was placed and nothing was charged. Try again."
            } else {
                "Your card could not be verified, so no order was placed and nothing was charged. Try again or use another card."
            };
            render(&st, &mut v, &key, vec![msg.to_string()], ("12", "2030")).await
        }
        Err(e) => Err(PageError::from_lookup(e)),
    }
}

pub async fn orders(State(st): State<AppState>, mut v: Visitor) -> Result<Response, PageError> {
    let Some(token) = access_token(&st, &mut v).await? else {
        return Ok(to_signin("/orders"));
    };
    let call = Call {
        bearer: Some(&token),
        client: v.ip,
        ..Call::default()
    };
    let mut list = st.backend.orders(&call).await?;
    // A checkout whose payment was declined is kept by orders for its records; to the
    // customer it is not an order.
    list.retain(|o| o.status != "failed");
    Ok(page(&Chrome::of(&v), "Orders", view::orders(&list)).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct Placed {
    #[serde(default)]
    placed: Option<String>,
}

pub async fn order(
    State(st): State<AppState>,
    mut v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<Placed>,
) -> Result<Html<String>, PageError> {
    let Some(token) = access_token(&st, &mut v).await? else {
        return Err(PageError::NotFound);
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(PageError::NotFound);
    }
    let call = Call {
        bearer: Some(&token),
        client: v.ip,
        ..Call::default()
    };
    let o = st
        .backend
        .order(&call, &id)
        .await
        .map_err(PageError::from_lookup)?;
    if o.status == "failed" {
        return Err(PageError::NotFound);
    }
    let csrf = v.csrf();
    let body = view::order(&o, q.placed.is_some(), &csrf);
    Ok(page(&Chrome::of(&v), "Order", body))
}
