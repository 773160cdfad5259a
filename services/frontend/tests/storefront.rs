//! The storefront against the real services (each on a fresh database, in this process):
//! the shopping journey, CSRF, escaping, headers and cookies, error pages.

mod support;

use support::{shop, shop_with, Browser};

const PASSWORD: &str = "correct horse battery staple";

async fn sign_up(b: &mut Browser, email: &str, next: &str) -> support::Page {
    let form = b.get(&format!("/signup?next={next}")).await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    b.post(
        "/signup",
        &[
            ("csrf", &csrf),
            ("email", email),
            ("password", PASSWORD),
            ("next", next),
        ],
    )
    .await
}

async fn add_to_cart(b: &mut Browser, slug: &str, quantity: &str) -> support::Page {
    let product = b.get(&format!("/p/{slug}")).await;
    assert_eq!(product.status, 200, "{}", product.body);
    let sku = support::field(&product.body, "sku").expect("sku field");
    b.post(
        "/cart/items",
        &[
            ("csrf", &product.csrf()),
            ("sku", &sku),
            ("quantity", quantity),
        ],
    )
    .await
}

async fn pay(b: &mut Browser, card: &str) -> support::Page {
    let form = b.get("/checkout").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let key = support::field(&form.body, "key").expect("idempotency key field");
    b.post(
        "/checkout",
        &[
            ("csrf", &form.csrf()),
            ("key", &key),
            ("number", card),
            ("exp_month", "12"),
            ("exp_year", "2031"),
            ("cvc", "123"),
        ],
    )
    .await
}

async fn slug_of(shop: &support::Shop, sku: &str) -> String {
    sqlx::query_scalar("SELECT slug FROM products WHERE sku = $1")
        .bind(sku)
        .fetch_one(&shop.catalog_db)
        .await
        .expect("slug")
}

/// The first product slug linked from a page.
fn first_product(body: &str) -> String {
    let at = body.find("href=\"/p/").expect("a product link");
    let rest = &body[at + 9..];
    rest[..rest.find('"').expect("end of link")].to_string()
}

#[tokio::test]
async fn browse_search_cart_sign_up_pay_and_see_the_order() {
    let shop = shop().await;
    let mut b = Browser::new(&shop);

    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Featured"), "{}", home.body);
    assert!(
        home.body.contains("href=\"/c/jackets\""),
        "categories are linked"
    );

    let results = b.get("/search?q=jacket&sort=price_asc").await;
    assert_eq!(results.status, 200);
    assert!(results.body.contains("Results for “jacket”"));
    let slug = first_product(&results.body);
    assert!(slug.contains("jacket"), "{slug}");

    // Anonymous cart, then sign-up: the cart comes along.
    let cart = add_to_cart(&mut b, &slug, "2").await;
    assert_eq!(cart.url, "/cart");
    assert!(cart.body.contains("Sign in to check out"), "{}", cart.body);
    let anonymous_cookie = b.cookie.clone();
    let after = sign_up(&mut b, "shopper@example.com", "/cart").await;
    assert_eq!(after.url, "/cart");
    assert_ne!(b.cookie, anonymous_cookie, "a new session id after sign-in");
    assert!(
        after.body.contains("value=\"2\""),
        "the cart survives sign-in: {}",
        after.body
    );
    assert!(after.body.contains("Check out"));

    // A declined card: a clear message, no order, the cart intact.
    let declined = pay(&mut b, "4000000000000002").await;
    assert_eq!(declined.status, 422);
    assert!(
        declined.body.contains("Your card was declined"),
        "{}",
        declined.body
    );
    let history = b.get("/orders").await;
    assert!(
        history.body.contains("You have not placed an order yet"),
        "{}",
        history.body
    );
    assert!(b.get("/cart").await.body.contains("value=\"2\""));

    // The approve card: the order page, then history.
    let placed = pay(&mut b, "4242 4242 4242 4242").await;
    assert_eq!(placed.status, 200, "{}", placed.body);
    assert!(placed.url.starts_with("/orders/"), "{}", placed.url);
    assert!(placed.body.contains("Your order is placed"));
    assert!(placed.body.contains("Confirmed"), "{}", placed.body);
    let history = b.get("/orders").await;
    assert_eq!(
        history.body.matches("href=\"/orders/").count(),
        1,
        "{}",
        history.body
    );
    assert!(b.get("/cart").await.body.contains("Your cart is empty"));

    // Signed out, the orders page asks for a sign-in.
    let home = b.get("/").await;
    let out = b.post("/signout", &[("csrf", &home.csrf())]).await;
    assert!(out.body.contains("Sign in"));
    let orders = b.get("/orders").await;
    assert_eq!(orders.url, "/signin");
}

#[tokio::test]
async fn sign_in_with_a_wrong_password_says_so_and_keeps_the_session() {
    let shop = shop().await;
    let mut b = Browser::new(&shop);
    sign_up(&mut b, "a@example.com", "/").await;
    let mut other = Browser::new(&shop);
    let form = other.get("/signin").await;
    let page = other
        .post(
            "/signin",
            &[
                ("csrf", &form.csrf()),
                ("email", "a@example.com"),
                ("password", "not the password!"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("do not match an account"));
    assert!(
        page.body.contains("value=\"a@example.com\""),
        "the email is kept"
    );
}

#[tokio::test]
async fn forms_without_the_session_csrf_token_are_refused_and_change_nothing() {
    let shop = shop().await;
    let mut b = Browser::new(&shop);
    let slug = slug_of(&shop, "DEMO-0008").await;
    let product = b.get(&format!("/p/{slug}")).await;
    assert_eq!(product.status, 200, "{}", product.body);
    let someone_elses = Browser::new(&shop).get(&format!("/p/{slug}")).await.csrf();
    assert_ne!(someone_elses, product.csrf());
    for token in ["", "forged", &someone_elses] {
        let page = b
            .post(
                "/cart/items",
                &[("csrf", token), ("sku", "DEMO-0008"), ("quantity", "1")],
            )
            .await;
        assert_eq!(page.status, 403, "token {token:?}");
        assert!(page.body.contains("nothing was changed"));
    }
    assert!(b.get("/cart").await.body.contains("Your cart is empty"));
    let page = b
        .post(
            "/signup",
            &[("email", "x@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 403);
    // A visitor with no session at all (a cross-site post) is refused too.
    let mut stranger = Browser::new(&shop);
    let page = stranger
        .post("/signout", &[("csrf", &product.csrf())])
        .await;
    assert_eq!(page.status, 403);
}

#[tokio::test]
async fn scripts_in_product_names_and_search_terms_are_shown_as_text() {
    let shop = shop().await;
    let evil = "<script>alert('pwned')</script><img src=x onerror=alert(1)>";
    sqlx::query("UPDATE products SET name = $1 WHERE sku = 'DEMO-0001'")
        .bind(evil)
        .execute(&shop.catalog_db)
        .await
        .expect("update");
    let mut b = Browser::new(&shop);
    let slug = slug_of(&shop, "DEMO-0001").await;
    let product = b.get(&format!("/p/{slug}")).await;
    assert_eq!(product.status, 200, "{}", product.body);
    let search = b
        .get("/search?q=%3Cscript%3Ealert(%27x%27)%3C%2Fscript%3E")
        .await;
    let listing = b.get("/c/jackets").await;
    for page in [&product, &search, &listing] {
        assert!(!page.body.contains("<script"), "raw script on {}", page.url);
        assert!(
            !page.body.contains("<img src=x"),
            "raw markup on {}",
            page.url
        );
    }
    assert!(product
        .body
        .contains("&lt;script&gt;alert('pwned')&lt;/script&gt;"));
    assert!(search
        .body
        .contains("&lt;script&gt;alert('x')&lt;/script&gt;"));
}

#[tokio::test]
async fn every_response_has_the_security_headers_and_a_strict_cookie() {
    let shop = shop().await;
    let mut b = Browser::new(&shop);
    let home = b.get("/").await;
    let h = &home.headers;
    assert_eq!(h["content-security-policy"], ecom_frontend::security::CSP);
    assert!(!ecom_frontend::security::CSP.contains("unsafe"));
    assert!(ecom_frontend::security::CSP.contains("default-src 'none'"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert!(h["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let cookie = h["set-cookie"].to_str().unwrap();
    for attr in [
        "__Host-session=",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(!home.body.contains("<script"), "no script at all");
    assert!(!home.body.contains("style=\""), "no inline style");
    let css = b.get("/static/style.css").await;
    assert_eq!(css.status, 200);
    assert!(css.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    let img = b.get("/images/DEMO-0001.svg").await;
    assert_eq!(img.headers["content-type"], "image/svg+xml");
    assert!(img.body.starts_with("<svg"));
}

#[tokio::test]
async fn friendly_pages_for_unknown_pages_and_a_service_that_is_down() {
    let shop = shop().await;
    let mut b = Browser::new(&shop);
    let missing = b.get("/p/no-such-product").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Page not found"));
    assert_eq!(b.get("/nowhere").await.status, 404);
    let down = shop_with(|s| s.urls.catalog = "http://127.0.0.1:9".into()).await;
    let page = Browser::new(&down).get("/").await;
    assert_eq!(page.status, 503);
    assert!(page.body.contains("We are having trouble right now"));
    assert!(!page.body.contains("127.0.0.1:9"), "no internals shown");
}

#[tokio::test]
async fn listings_filter_sort_and_page() {
    let shop = shop().await;
    let mut b = Browser::new(&shop);
    let page1 = b.get("/search?q=&sort=price_asc&min=100&max=300").await;
    assert_eq!(page1.status, 200);
    let prices: Vec<i64> = page1
        .body
        .match_indices("<span class=\"price\">€")
        .map(|(i, m)| {
            let rest = &page1.body[i + m.len()..];
            let text = &rest[..rest.find('<').unwrap()];
            text.replace([',', '.'], "").parse().unwrap()
        })
        .collect();
    assert!(!prices.is_empty(), "{}", page1.body);
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    assert!(
        prices.iter().all(|p| (10_000..=30_000).contains(p)),
        "{prices:?}"
    );
    let all = b.get("/search?q=").await;
    let next = all.body.find("rel=\"next\" href=\"").expect("a next page");
    let rest = &all.body[next + 17..];
    let href = rest[..rest.find('"').unwrap()].replace("&amp;", "&");
    let page2 = b.get(&href).await;
    assert_eq!(page2.status, 200);
    assert_ne!(first_product(&all.body), first_product(&page2.body));
    let bad = b.get("/search?q=boot&min=abc").await;
    assert!(bad.body.contains("is not an amount"), "{}", bad.body);
}

#[tokio::test]
async fn a_card_that_asks_for_3_d_secure_is_verified_on_the_order_page() {
    let shop = shop().await;
    let mut b = Browser::new(&shop);
    let slug = first_product(&b.get("/search?q=jacket").await.body);
    add_to_cart(&mut b, &slug, "1").await;
    sign_up(&mut b, "verifier@example.com", "/cart").await;

    // The bank asks: the order page has the verification form; failing it places nothing.
    let asked = pay(&mut b, "4000 0000 0000 3220").await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    assert!(asked.url.starts_with("/orders/"), "{}", asked.url);
    assert!(asked.body.contains("Verify your payment"), "{}", asked.body);
    assert!(asked.body.contains("Awaiting card verification"));
    let verify = |page: &support::Page| {
        let at = page
            .body
            .find("action=\"/orders/")
            .expect("verification form");
        let rest = &page.body[at + 8..];
        rest[..rest.find('"').expect("end of action")].to_string()
    };
    let challenge = support::field(&asked.body, "challenge_id").expect("challenge field");
    let failed = b
        .post(
            &verify(&asked),
            &[
                ("csrf", &asked.csrf()),
                ("challenge_id", &challenge),
                ("result", "failed"),
            ],
        )
        .await;
    assert_eq!(failed.status, 422, "{}", failed.body);
    assert!(
        failed.body.contains("could not be verified"),
        "{}",
        failed.body
    );
    assert!(b.get("/cart").await.body.contains("value=\"1\""));

    // Asked again and verified: placed and confirmed.
    let asked = pay(&mut b, "4000000000003220").await;
    let challenge = support::field(&asked.body, "challenge_id").expect("challenge field");
    let placed = b
        .post(
            &verify(&asked),
            &[
                ("csrf", &asked.csrf()),
                ("challenge_id", &challenge),
                ("result", "succeeded"),
            ],
        )
        .await;
    assert_eq!(placed.status, 200, "{}", placed.body);
    assert!(
        placed.body.contains("Your order is placed"),
        "{}",
        placed.body
    );
    assert!(placed.body.contains("Confirmed"), "{}", placed.body);
    assert!(b.get("/cart").await.body.contains("Your cart is empty"));
}
