//! Sign-in, sign-up, cart, checkout and orders.

use maud::{html, Markup};

use super::layout::csrf_field;
use super::{image_url, price};
use crate::backend::{Order, OrderSummary, TestCard};

fn errors(messages: &[String]) -> Markup {
    html! {
        @if !messages.is_empty() {
            div.errors role="alert" tabindex="-1" id="form-errors" {
                h2 { "Please check the form" }
                ul { @for m in messages { li { (m) } } }
            }
        }
    }
}

pub struct AuthForm<'a> {
    pub signup: bool,
    pub email: &'a str,
    pub next: &'a str,
    pub csrf: &'a str,
    pub errors: Vec<String>,
}

pub fn auth_form(f: &AuthForm<'_>) -> Markup {
    let (title, action, button, autocomplete) = if f.signup {
        (
            "Create your account",
            "/signup",
            "Create account",
            "new-password",
        )
    } else {
        ("Sign in", "/signin", "Sign in", "current-password")
    };
    html! {
        section.narrow {
            h1 { (title) }
            (errors(&f.errors))
            form.stack method="post" action=(action) {
                (csrf_field(f.csrf))
                input type="hidden" name="next" value=(f.next);
                div.field {
                    label for="email" { "Email" }
                    input #email type="email" name="email" value=(f.email) required autocomplete="email" maxlength="254";
                }
                div.field {
                    label for="password" { "Password" }
                    input #password type="password" name="password" required autocomplete=(autocomplete)
                        minlength=[f.signup.then_some("12")] maxlength="1024" aria-describedby=[f.signup.then_some("password-help")];
                    @if f.signup {
                        p.help #password-help { "At least 12 characters. A few unrelated words make a good one." }
                    }
                }
                button.primary type="submit" { (button) }
            }
            @if f.signup {
                p { "Already have an account? " a href={"/signin?next=" (f.next)} { "Sign in" } }
            } @else {
                p { "New here? " a href={"/signup?next=" (f.next)} { "Create an account" } }
            }
        }
    }
}

/// One line of the cart as shown: what the catalog says about the SKU now.
pub struct CartLine {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: String,
}

pub fn cart_table(lines: &[CartLine], csrf: &str, editable: bool) -> Markup {
    let total: i64 = lines
        .iter()
        .map(|l| l.unit_price_minor * i64::from(l.quantity))
        .sum();
    let currency = lines.first().map(|l| l.currency.as_str()).unwrap_or("EUR");
    html! {
        table.cart {
            caption.visually-hidden { "Items in your cart" }
            thead { tr { th scope="col" { "Product" } th scope="col" { "Price" } th scope="col" { "Quantity" } th scope="col" { "Subtotal" } } }
            tbody {
                @for l in lines {
                    tr {
                        td.item {
                            img src=(image_url(&l.sku)) alt="" width="64" height="48";
                            span { (l.name) }
                        }
                        td { (price(l.unit_price_minor, &l.currency)) }
                        td {
                            @if editable {
                                form.inline method="post" action={"/cart/items/" (l.sku)} {
                                    (csrf_field(csrf))
                                    label.visually-hidden for={"qty-" (l.sku)} { "Quantity of " (l.name) }
                                    input id={"qty-" (l.sku)} type="number" name="quantity" value=(l.quantity) min="0" max="100" required;
                                    button.small type="submit" { "Update" span.visually-hidden { " " (l.name) } }
                                }
                                form.inline method="post" action={"/cart/items/" (l.sku)} {
                                    (csrf_field(csrf))
                                    input type="hidden" name="quantity" value="0";
                                    button.link type="submit" { "Remove" span.visually-hidden { " " (l.name) } }
                                }
                            } @else {
                                (l.quantity)
                            }
                        }
                        td { (price(l.unit_price_minor * i64::from(l.quantity), &l.currency)) }
                    }
                }
            }
            tfoot { tr { th scope="row" colspan="3" { "Total" } td.total { (price(total, currency)) } } }
        }
    }
}

pub fn cart(lines: &[CartLine], csrf: &str, signed_in: bool) -> Markup {
    html! {
        h1 { "Your cart" }
        @if lines.is_empty() {
            p.empty { "Your cart is empty. " a href="/" { "Continue shopping" } }
        } @else {
            (cart_table(lines, csrf, true))
            p.actions {
                a href="/" { "Continue shopping" }
                @if signed_in {
                    a.button.primary href="/checkout" { "Check out" }
                } @else {
                    a.button.primary href="/signin?next=/checkout" { "Sign in to check out" }
                }
            }
        }
    }
}

pub struct CheckoutForm<'a> {
    pub lines: &'a [CartLine],
    pub csrf: &'a str,
    pub key: &'a str,
    pub cards: &'a [TestCard],
    pub errors: Vec<String>,
    pub exp_month: &'a str,
    pub exp_year: &'a str,
}

pub fn checkout(f: &CheckoutForm<'_>) -> Markup {
    html! {
        h1 { "Checkout" }
        (errors(&f.errors))
        div.checkout {
            section aria-labelledby="summary-title" {
                h2 #summary-title { "Order summary" }
                (cart_table(f.lines, f.csrf, false))
            }
            section aria-labelledby="pay-title" {
                h2 #pay-title { "Payment" }
                form.stack method="post" action="/checkout" autocomplete="off" {
                    (csrf_field(f.csrf))
                    input type="hidden" name="key" value=(f.key);
                    div.field {
                        label for="number" { "Card number" }
                        input #number name="number" inputmode="numeric" autocomplete="cc-number" required maxlength="23" pattern="[0-9 ]{12,23}";
                    }
                    div.row {
                        div.field {
                            label for="exp_month" { "Expiry month (MM)" }
                            input #exp_month name="exp_month" inputmode="numeric" autocomplete="cc-exp-month" required maxlength="2" value=(f.exp_month);
                        }
                        div.field {
                            label for="exp_year" { "Expiry year (YYYY)" }
                            input #exp_year name="exp_year" inputmode="numeric" autocomplete="cc-exp-year" required maxlength="4" value=(f.exp_year);
                        }
                        div.field {
                            label for="cvc" { "Security code (CVC)" }
                            input #cvc name="cvc" inputmode="numeric" autocomplete="cc-csc" required maxlength="4";
                        }
                    }
                    button.primary type="submit" { "Place order" }
                    p.help { "Your card details go straight to our payment processor, which gives us a token; we never store the number." }
                }
                @if !f.cards.is_empty() {
                    details.testcards open {
                        summary { "Sandbox test cards" }
                        p { "This shop runs in sandbox mode. Use any future expiry date and any 3-digit code." }
                        table {
                            caption.visually-hidden { "Test cards" }
                            thead { tr { th scope="col" { "Number" } th scope="col" { "Brand" } th scope="col" { "Result" } } }
                            tbody {
                                @for c in f.cards {
                                    tr { td { code { (c.number) } } td { (c.brand) } td { (c.outcome.replace('_', " ")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "confirmed" => "Confirmed",
        "pending" | "reserved" | "authorized" => "Processing",
        "awaiting_action" => "Awaiting card verification",
        "compensating" => "Being cancelled",
        "failed" => "Not placed",
        "refunded" => "Refunded",
        _ => "Processing",
    }
}

fn date(ts: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|d| d.format("%-d %b %Y, %H:%M UTC").to_string())
        .unwrap_or_else(|_| ts.to_string())
}

pub fn orders(list: &[OrderSummary]) -> Markup {
    html! {
        h1 { "Your orders" }
        @if list.is_empty() {
            p.empty { "You have not placed an order yet. " a href="/" { "Start shopping" } }
        } @else {
            table.orders {
                caption.visually-hidden { "Orders, newest first" }
                thead { tr { th scope="col" { "Order" } th scope="col" { "Placed" } th scope="col" { "Status" } th scope="col" { "Total" } } }
                tbody {
                    @for o in list {
                        tr {
                            td { a href={"/orders/" (o.id)} { "Order " (o.id.get(..8).unwrap_or(&o.id)) } }
                            td { (date(&o.created_at)) }
                            td { span class={"status " (o.status)} { (status_label(&o.status)) } }
                            td { (price(o.total_minor, &o.currency)) }
                        }
                    }
                }
            }
        }
    }
}

pub fn order(o: &Order, just_placed: bool, csrf: &str) -> Markup {
    html! {
        @if let Some(a) = &o.action {
            section.verify aria-labelledby="verify" {
                h1 #verify { "Verify your payment" }
                p { "Your bank asks you to confirm this payment (3-D Secure). The items are held for you until " (date(&a.expires_at)) "." }
                p.note { "Sandbox: choose what the bank's page would answer." }
                form.inline method="post" action={"/orders/" (o.id) "/3ds"} {
                    (csrf_field(csrf))
                    input type="hidden" name="challenge_id" value=(a.challenge_id);
                    button.primary type="submit" name="result" value="succeeded" { "Complete verification" }
                    " "
                    button type="submit" name="result" value="failed" { "Fail verification" }
                }
            }
            h2 { "Order " (o.id) }
        } @else if just_placed {
            div.success role="status" {
                h1 { "Thank you! Your order is placed." }
                p { "A confirmation is on its way. You can find this order under " a href="/orders" { "Orders" } " at any time." }
            }
            h2 { "Order " (o.id) }
        } @else {
            h1 { "Order " (o.id) }
        }
        p { "Placed " (date(&o.created_at)) " · " span class={"status " (o.status)} { (status_label(&o.status)) } }
        table.cart {
            caption.visually-hidden { "Items in this order" }
            thead { tr { th scope="col" { "Product" } th scope="col" { "Price" } th scope="col" { "Quantity" } th scope="col" { "Subtotal" } } }
            tbody {
                @for l in &o.lines {
                    tr {
                        td.item { img src=(image_url(&l.sku)) alt="" width="64" height="48"; span { (l.name) } }
                        td { (price(l.unit_price_minor, &o.currency)) }
                        td { (l.quantity) }
                        td { (price(l.unit_price_minor * i64::from(l.quantity), &o.currency)) }
                    }
                }
            }
            tfoot { tr { th scope="row" colspan="3" { "Total" } td.total { (price(o.total_minor, &o.currency)) } } }
        }
        p { a href="/orders" { "← All orders" } }
    }
}
