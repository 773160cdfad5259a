//! The storefront in headless Chromium, driven over WebDriver (chromedriver + fantoccini),
//! against the real `ecomctl dev`: search -> product -> cart -> sign up (the cart comes along)
//! -> a declined card (a clear message, no order) -> the approve card -> the order in history;
//! a form without its CSRF token refused; a script in a search term shown as text. axe-core
//! runs in every page: no serious or critical violation. A screenshot of every step is saved
//! under target/e2e/ (the README's picture is the home page's).
//!
//! Chromium, chromedriver and axe-core come from scripts/setup. Missing, the test fails: it
//! never skips.

mod devshop;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use devshop::{repo_root, DevShop};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

fn tool(env: &str, names: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    names
        .iter()
        .find_map(|n| which::which(n).ok())
        .unwrap_or_else(|| {
            panic!(
                "{} is required for the storefront browser test (run scripts/setup, or set {env})",
                names.join(" or ")
            )
        })
}

fn axe_source() -> String {
    let path = repo_root().join(".tools/node/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is required ({}: {e}); run scripts/setup",
            path.display()
        )
    })
}

struct Driver {
    process: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn start_driver() -> (Driver, u16) {
    let port = devshop::free_base();
    let process = Command::new(tool("CHROMEDRIVER", &["chromedriver"]))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Driver { process }, port)
}

struct Browser {
    client: Client,
    base: String,
    axe: String,
    shots: PathBuf,
    step: usize,
}

impl Browser {
    async fn open(driver_port: u16, base: &str) -> Browser {
        let chromium = tool(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--lang=en-US"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a WebDriver session in headless Chromium");
        let shots = repo_root().join("target/e2e");
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        Browser {
            client,
            base: base.trim_end_matches('/').to_string(),
            axe: axe_source(),
            shots,
            step: 0,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    async fn text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .expect("main")
            .text()
            .await
            .expect("text")
    }

    async fn fill(&self, css: &str, value: &str) {
        let el = self.client.find(Locator::Css(css)).await.expect(css);
        el.clear().await.expect("clear");
        el.send_keys(value).await.expect("type");
    }

    /// Clicks a link or a submit button and waits until the browser shows the page it led to:
    /// a WebDriver click may return before a form's navigation has begun.
    async fn click(&self, css: &str) {
        self.client
            .execute("window.__e2e_old_page = true;", vec![])
            .await
            .expect("mark the page");
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .expect("click");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = self
                .client
                .execute(
                    "return window.__e2e_old_page === true ? 'old' : document.readyState;",
                    vec![],
                )
                .await;
            if matches!(state.as_ref().ok().and_then(|v| v.as_str()), Some("complete")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css} did not lead to a new page within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Screenshot and axe-core: no serious or critical violation on this page.
    async fn check(&mut self, name: &str) {
        self.step += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        let file = self.shots.join(format!("{:02}-{name}.png", self.step));
        std::fs::write(&file, png).expect("save screenshot");
        self.client
            .execute(&self.axe, vec![])
            .await
            .expect("inject axe-core");
        let found = self
            .client
            .execute(
                "return axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})));",
                vec![],
            )
            .await
            .expect("run axe-core");
        let bad: Vec<&Value> = found
            .as_array()
            .expect("violations")
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious") | Some("critical")))
            .collect();
        assert!(
            bad.is_empty(),
            "axe-core on {name} ({}): {bad:#?}",
            self.path().await
        );
    }
}

#[tokio::test]
async fn shopping_in_a_real_browser() {
    let name = devshop::unique_name("te2e");
    devshop::forget(&name);
    let shop = DevShop::start(&name, &[]);
    let (_driver, driver_port) = start_driver();
    let mut b = Browser::open(driver_port, &shop.url).await;

    b.goto("/").await;
    assert!(b.text().await.contains("Featured"));
    b.check("home").await;

    // Search from the header, as a person would.
    b.fill("#site-search", "jacket").await;
    b.click("form.search button").await;
    assert!(b.path().await.starts_with("/search?q=jacket"));
    assert!(b.text().await.contains("Results for “jacket”"));
    b.check("search").await;

    b.click("ul.grid li.card a").await;
    assert!(b.path().await.starts_with("/p/"));
    let product_name = b
        .client
        .find(Locator::Css("article.product h1"))
        .await
        .expect("h1")
        .text()
        .await
        .expect("name");
    b.check("product").await;

    b.fill("#quantity", "2").await;
    b.click("form.buy button").await;
    assert_eq!(b.path().await, "/cart");
    assert!(b.text().await.contains(&product_name));
    b.check("cart").await;

    // Sign up on the way to checkout: the cart is still there afterwards.
    b.click("a[href='/signin?next=/checkout']").await;
    b.check("sign-in").await;
    b.click("main a[href^='/signup']").await;
    let email = format!("e2e-{}@example.com", std::process::id());
    b.fill("#email", &email).await;
    b.fill("#password", "correct horse battery staple").await;
    b.check("sign-up").await;
    b.click("form.stack button").await;
    assert_eq!(b.path().await, "/checkout");
    assert!(
        b.text().await.contains(&product_name),
        "the cart survived sign-in"
    );
    b.check("checkout").await;

    // A declined card: a clear message, and no order.
    b.fill("#number", "4000 0000 0000 0002").await;
    b.fill("#cvc", "123").await;
    b.click("form.stack button").await;
    assert!(
        b.text().await.contains("Your card was declined"),
        "{}",
        b.text().await
    );
    b.check("declined").await;
    b.goto("/orders").await;
    assert!(b.text().await.contains("You have not placed an order yet"));
    b.check("no-orders").await;

    // The approve card: the order is placed and appears in history.
    b.goto("/checkout").await;
    b.fill("#number", "4242 4242 4242 4242").await;
    b.fill("#cvc", "123").await;
    b.click("form.stack button").await;
    assert!(b.path().await.starts_with("/orders/"), "{}", b.path().await);
    assert!(b.text().await.contains("Your order is placed"));
    b.check("order-placed").await;
    b.goto("/orders").await;
    let rows = b
        .client
        .find_all(Locator::Css("table.orders tbody tr"))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1, "one order in history");
    assert!(b.text().await.contains("Confirmed"));
    b.check("history").await;

    // A script in a search term is text on the page, and never runs.
    b.goto("/search?q=%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E")
        .await;
    let ran = b
        .client
        .execute("return window.__xss === 1;", vec![])
        .await
        .expect("probe");
    assert_eq!(ran, json!(false), "the injected script ran");
    assert!(b
        .text()
        .await
        .contains("Results for “<script>window.__xss=1</script>”"));
    b.check("xss-as-text").await;

    // A form sent without its CSRF token is refused.
    b.goto("/").await;
    b.click("ul.grid li.card a").await;
    b.client
        .execute(
            "document.querySelector('form.buy input[name=csrf]').remove();",
            vec![],
        )
        .await
        .expect("remove the token");
    b.click("form.buy button").await;
    assert!(
        b.text().await.contains("Please try again"),
        "{}",
        b.text().await
    );
    b.check("csrf-refused").await;

    b.client.close().await.expect("close the browser");
    eprintln!("screenshots in {}", b.shots.display());
}
