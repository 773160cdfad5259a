//! The page shell: head, header (logo, search, account, cart), main, footer.

use axum::response::Html;
use maud::{html, Markup, DOCTYPE};

use crate::session::Visitor;

/// What the header needs to know about the visitor.
pub struct Chrome {
    pub email: Option<String>,
    pub cart_count: i32,
    pub csrf: String,
    pub query: String,
}

impl Chrome {
    pub fn of(v: &Visitor) -> Self {
        Self {
            email: v.account.as_ref().map(|a| a.email.clone()),
            cart_count: v.cart_count,
            csrf: v.csrf(),
            query: String::new(),
        }
    }

    pub fn with_query(mut self, q: &str) -> Self {
        self.query = q.to_string();
        self
    }

    /// For error pages, where the session may be what failed.
    pub fn anonymous() -> Self {
        Self {
            email: None,
            cart_count: 0,
            csrf: String::new(),
            query: String::new(),
        }
    }
}

pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

fn header(c: &Chrome) -> Markup {
    html! {
        header.site {
            div.bar {
                a.logo href="/" {
                    span.mark aria-hidden="true" { "N" }
                    span { "Northwind Outfitters" }
                }
                form.search role="search" action="/search" method="get" {
                    label.visually-hidden for="site-search" { "Search products" }
                    input #site-search type="search" name="q" value=(c.query)
                        placeholder="Search jackets, boots, lamps…" maxlength="200" autocomplete="off";
                    button type="submit" { "Search" }
                }
                nav.account aria-label="Account" {
                    ul {
                        @if let Some(email) = &c.email {
                            li { a href="/orders" { "Orders" } }
                            li {
                                form.inline method="post" action="/signout" {
                                    (csrf_field(&c.csrf))
                                    button.link type="submit" { "Sign out " span.visually-hidden { (email) } }
                                }
                            }
                        } @else {
                            li { a href="/signin" { "Sign in" } }
                            li { a href="/signup" { "Create account" } }
                        }
                        li {
                            a.cart href="/cart" {
                                "Cart "
                                span.count { (c.cart_count) }
                                span.visually-hidden { " items" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn footer() -> Markup {
    html! {
        footer.site {
            div.bar {
                p { "Northwind Outfitters is a demo shop run by ecomctl. No real goods are sold and no real cards are charged: use the sandbox test cards at checkout." }
                p.muted { "Secure checkout · Free returns within 30 days · Prices include VAT" }
            }
        }
    }
}

pub fn page(c: &Chrome, title: &str, body: Markup) -> Html<String> {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Northwind Outfitters" }
                link rel="stylesheet" href="/static/style.css";
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                (header(c))
                main #main tabindex="-1" { (body) }
                (footer())
            }
        }
    };
    Html(doc.into_string())
}
