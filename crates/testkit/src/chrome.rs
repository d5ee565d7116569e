//! Headless Chromium driven over WebDriver, for tests that walk the console as a person does.
//!
//! [`Chrome::start`] runs `scripts/install-browser.sh` once per process (it installs Debian's
//! `chromium` and `chromium-driver` when they are missing), starts `chromedriver` on a free
//! port as a child process and opens a session in a fresh profile. Without a browser the test
//! fails and says how to install one: it never skips.
//!
//! ```text
//! let chrome = Chrome::start(&server.base_url).await;
//! chrome.goto("/console/login").await;
//! chrome.fill("email", "it@acme.com").await;        // by id, or by the text of its label
//! chrome.click_text("Sign in").await;
//! chrome.wait_for_path("/console").await;
//! let png = chrome.screenshot().await;
//! ```
//!
//! WebDriver talks plain HTTP to the local chromedriver, so the client needs no TLS stack.
//! The browser accepts the self-signed certificate of the HTTPS test IdP
//! (`TestIdp::serve_tls`): Okta is HTTPS, and the sign-in page's CSP lets its form lead only
//! to HTTPS identity providers.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Map, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The desktop window: a laptop screen.
pub const DESKTOP: (u32, u32) = (1280, 900);
/// A phone's screen, for the screenshot that shows the console on a phone.
pub const PHONE: (u32, u32) = (390, 844);

/// How long a page or element may take before a test fails.
const PATIENCE: Duration = Duration::from_secs(20);
/// How long chromedriver may take to answer after it starts: longer than a page, since on a
/// loaded two-core machine (the whole suite running beside it) its start has taken over 20 s.
const DRIVER_PATIENCE: Duration = Duration::from_secs(60);
/// Starts of chromedriver tried before the test fails (see [`Chrome::start`]).
const DRIVER_START_ATTEMPTS: u32 = 3;

const INSTALL_HINT: &str = "\n(the browser tests need Debian's Chromium and its WebDriver: \
`apt-get install chromium chromium-driver`, or run scripts/install-browser.sh as root)";

/// A headless Chromium session. Dropping it ends the session's processes.
pub struct Chrome {
    client: Client,
    driver: Child,
    profile: PathBuf,
    /// The server pages are opened on, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        end_group(&mut self.driver);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Chrome {
    /// Headless Chromium in a desktop-sized window, pages relative to `base_url`.
    pub async fn start(base_url: &str) -> Chrome {
        install_once();
        let chromedriver = find_program(&["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver is not installed{INSTALL_HINT}"));
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"])
            .unwrap_or_else(|| panic!("chromium is not installed{INSTALL_HINT}"));
        let profile =
            std::env::temp_dir().join(format!("portcullis-chrome-{}", uuid::Uuid::new_v4()));
        // From here on, a panic drops `chrome`-to-be pieces by hand: build the guard first.
        let mut guard = DriverGuard {
            driver: None,
            profile: profile.clone(),
        };
        // The port is free when chosen but may be taken by a parallel test before chromedriver
        // binds it; chromedriver then exits, and another port is tried.
        let mut webdriver = String::new();
        for attempt in 1..=DRIVER_START_ATTEMPTS {
            let port = free_port();
            let driver = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {}: {e}{INSTALL_HINT}", chromedriver.display())
                });
            let driver = guard.driver.insert(driver);
            webdriver = format!("http://127.0.0.1:{port}");
            match wait_until_ready(&webdriver, driver).await {
                DriverStart::Ready => break,
                DriverStart::Exited(status) if attempt < DRIVER_START_ATTEMPTS => {
                    eprintln!("chromedriver on port {port} exited ({status}); trying another port");
                    if let Some(mut gone) = guard.driver.take() {
                        end_group(&mut gone);
                    }
                }
                DriverStart::Exited(status) => panic!(
                    "chromedriver exited ({status}) {DRIVER_START_ATTEMPTS} times before answering{INSTALL_HINT}"
                ),
                DriverStart::Silent => panic!(
                    "chromedriver did not answer on {webdriver} within {DRIVER_PATIENCE:?}{INSTALL_HINT}"
                ),
            }
        }

        let (w, h) = DESKTOP;
        let mut caps = Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("acceptInsecureCerts".into(), json!(true));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={w},{h}"),
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start {}: {e}{INSTALL_HINT}",
                    chromium.display()
                )
            });
        let chrome = Chrome {
            client,
            driver: guard.driver.take().expect("driver"),
            profile,
            base_url: base_url.trim_end_matches('/').to_string(),
        };
        chrome.resize(DESKTOP).await;
        chrome
    }

    /// The underlying WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Ends the session cleanly (the processes end on drop either way).
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }

    /// Opens `path` (relative to the base URL) or an absolute URL.
    pub async fn goto(&self, path: &str) {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base_url)
        };
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The address of the page shown.
    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("no current URL: {e}"))
            .to_string()
    }

    /// The path (and query) of the page shown, when it is on the base URL.
    pub async fn path(&self) -> String {
        let url = self.url().await;
        match url.strip_prefix(&self.base_url) {
            Some(p) => p.to_string(),
            None => url,
        }
    }

    /// Waits until the page shown is `path` on the base URL (query ignored).
    pub async fn wait_for_path(&self, path: &str) {
        let start = Instant::now();
        loop {
            let now = self.path().await;
            if now.split('?').next() == Some(path) {
                return;
            }
            if start.elapsed() > PATIENCE {
                let body = self.body_text().await;
                panic!("still on {now} after {PATIENCE:?}, not {path}; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's address starts with `prefix` (e.g. another site).
    pub async fn wait_for_url_prefix(&self, prefix: &str) {
        let start = Instant::now();
        loop {
            let now = self.url().await;
            if now.starts_with(prefix) {
                return;
            }
            if start.elapsed() > PATIENCE {
                let body = self.body_text().await;
                panic!("still on {now} after {PATIENCE:?}, not {prefix}…; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the element with `id` and returns its text.
    pub async fn wait_for(&self, id: &str) -> String {
        let start = Instant::now();
        loop {
            // A find or a read can fail while a page is still loading ("aborted by
            // navigation", a stale element): try again until the patience runs out.
            let attempt = match self.client.find(Locator::Id(id)).await {
                Ok(el) => el.text().await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(text) => return text,
                Err(e) if start.elapsed() > PATIENCE => panic!(
                    "no #{id} on {}: {e}\nthe page says:\n{}",
                    self.url_or_unknown().await,
                    self.body_text().await
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Waits until the element with `id` shows `needle` (a page that replaces one with the
    /// same element), and returns its text.
    pub async fn wait_for_text(&self, id: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Ok(el) = self.client.find(Locator::Id(id)).await {
                if let Ok(text) = el.text().await {
                    if text.contains(needle) {
                        return text;
                    }
                }
            }
            if start.elapsed() > PATIENCE {
                panic!(
                    "#{id} never showed {needle:?} within {PATIENCE:?}; the page says:\n{}",
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the element with `id`.
    pub async fn text(&self, id: &str) -> String {
        let el = self.find_id(id).await;
        el.text()
            .await
            .unwrap_or_else(|e| panic!("cannot read #{id}: {e}"))
    }

    /// Whether an element with `id` is on the page.
    pub async fn has(&self, id: &str) -> bool {
        self.client.find(Locator::Id(id)).await.is_ok()
    }

    /// The visible text of the whole page.
    pub async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The page's `<h1>`.
    pub async fn heading(&self) -> String {
        match self.client.find(Locator::Css("h1")).await {
            Ok(h) => h.text().await.unwrap_or_default(),
            Err(e) => panic!("no h1 on {}: {e}", self.url_or_unknown().await),
        }
    }

    /// Types `value` into a field found by id, or else by the text of its label (a `label
    /// for` or a label around the field). What was in the field is replaced.
    pub async fn fill(&self, id_or_label: &str, value: &str) {
        let field = self.field(id_or_label).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("cannot clear {id_or_label:?}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {id_or_label:?}: {e}"));
    }

    /// Chooses the file at `path` in the file input with `id`, as the file picker does.
    pub async fn upload(&self, id: &str, path: &std::path::Path) {
        let el = self.find_id(id).await;
        let path = path
            .to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()));
        el.send_keys(path)
            .await
            .unwrap_or_else(|e| panic!("cannot choose {path} in #{id}: {e}"));
    }

    /// Waits for a window other than the one shown (a link with `target="_blank"`), shows
    /// it, and returns the handle of the window shown before.
    pub async fn switch_to_new_window(&self) -> fantoccini::wd::WindowHandle {
        let before = self
            .client
            .window()
            .await
            .unwrap_or_else(|e| panic!("no current window: {e}"));
        let start = Instant::now();
        loop {
            let windows = self
                .client
                .windows()
                .await
                .unwrap_or_else(|e| panic!("cannot list windows: {e}"));
            if let Some(new) = windows.into_iter().find(|w| *w != before) {
                self.client
                    .switch_to_window(new)
                    .await
                    .unwrap_or_else(|e| panic!("cannot switch windows: {e}"));
                return before;
            }
            if start.elapsed() > PATIENCE {
                panic!("no new window opened within {PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Closes the window shown and shows `back` again.
    pub async fn close_window_to(&self, back: fantoccini::wd::WindowHandle) {
        self.client
            .close_window()
            .await
            .unwrap_or_else(|e| panic!("cannot close the window: {e}"));
        self.client
            .switch_to_window(back)
            .await
            .unwrap_or_else(|e| panic!("cannot switch back: {e}"));
    }

    /// Clicks the element with `id`.
    pub async fn click(&self, id: &str) {
        let el = self.find_id(id).await;
        el.click()
            .await
            .unwrap_or_else(|e| panic!("cannot click #{id}: {e}"));
    }

    /// Clicks the button (or submit input, or link) whose text is `text`.
    pub async fn click_text(&self, text: &str) {
        let q = xpath_literal(text);
        let xpath = format!(
            "//button[normalize-space(.)={q}] | //input[(@type='submit' or @type='button') and @value={q}] | //a[normalize-space(.)={q}]"
        );
        let start = Instant::now();
        let el = loop {
            // As in `wait_for`: a page still loading may abort the find; try again.
            match self.client.find(Locator::XPath(&xpath)).await {
                Ok(el) => break el,
                Err(e) if start.elapsed() > PATIENCE => panic!(
                    "no button or link {text:?} on {}: {e}\nthe page says:\n{}",
                    self.url_or_unknown().await,
                    self.body_text().await
                ),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        el.click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {text:?}: {e}"));
    }

    /// The value of the cookie `name` the browser would send to the page shown.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_named_cookie(name)
            .await
            .ok()
            .map(|c| c.value().to_string())
    }

    /// Resizes the window (e.g. [`PHONE`], then back to [`DESKTOP`]).
    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("cannot resize the window: {e}"));
    }

    /// A PNG of the visible part of the page.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("no screenshot: {e}"))
    }

    async fn url_or_unknown(&self) -> String {
        match self.client.current_url().await {
            Ok(u) => u.to_string(),
            Err(_) => "an unknown page".into(),
        }
    }

    async fn find_id(&self, id: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Id(id)).await {
            Ok(el) => el,
            Err(e) => panic!(
                "no #{id} on {}: {e}\nthe page says:\n{}",
                self.url_or_unknown().await,
                self.body_text().await
            ),
        }
    }

    async fn field(&self, id_or_label: &str) -> fantoccini::elements::Element {
        if let Ok(el) = self.client.find(Locator::Id(id_or_label)).await {
            return el;
        }
        let q = xpath_literal(id_or_label);
        let label =
            format!("//label[normalize-space(.)={q} or starts-with(normalize-space(.), {q})]");
        let Ok(label) = self.client.find(Locator::XPath(&label)).await else {
            panic!(
                "no field with id or label {id_or_label:?} on {}",
                self.url_or_unknown().await
            );
        };
        if let Ok(Some(target)) = label.attr("for").await {
            return self.find_id(&target).await;
        }
        label
            .find(Locator::Css("input, textarea, select"))
            .await
            .unwrap_or_else(|e| panic!("the label {id_or_label:?} names no field: {e}"))
    }
}

/// Kills chromedriver if [`Chrome::start`] fails half-way.
struct DriverGuard {
    driver: Option<Child>,
    profile: PathBuf,
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            end_group(&mut driver);
            let _ = std::fs::remove_dir_all(&self.profile);
        }
    }
}

/// chromedriver runs in a process group of its own with the browsers it started (a test that
/// panics never closes its session): end the whole group, then reap chromedriver.
fn end_group(driver: &mut Child) {
    let _ = Command::new("sh")
        .args(["-c", "kill -s KILL -- \"-$0\" 2>/dev/null"])
        .arg(driver.id().to_string())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

/// A string as an XPath literal (XPath 1.0 has no escapes).
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("no free port for chromedriver: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no free port for chromedriver: {e}"))
        .port()
}

enum DriverStart {
    Ready,
    Exited(std::process::ExitStatus),
    Silent,
}

async fn wait_until_ready(webdriver: &str, driver: &mut Child) -> DriverStart {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        if let Ok(res) = http.get(format!("{webdriver}/status")).send().await {
            if res.status().is_success() {
                let status: Value = res.json().await.unwrap_or(Value::Null);
                if status["value"]["ready"] == json!(true) {
                    return DriverStart::Ready;
                }
            }
        }
        if let Ok(Some(status)) = driver.try_wait() {
            return DriverStart::Exited(status);
        }
        if start.elapsed() > DRIVER_PATIENCE {
            return DriverStart::Silent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A fresh machine has no browser: install it, once per process, as the SAML IdP's venv is.
/// The script takes a lock, so test binaries running at once install it once.
fn install_once() {
    static DONE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let script = crate::repo_root().join("scripts/install-browser.sh");
    let out = Command::new(&script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}{INSTALL_HINT}", script.display()));
    assert!(
        out.status.success(),
        "scripts/install-browser.sh failed ({}):\n{}{INSTALL_HINT}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    *done = true;
}

/// Where screenshots go: `PORTCULLIS_SCREENSHOTS` names a directory (relative to the
/// repository root unless absolute); unset or empty, none are written.
pub fn screenshot_dir() -> Option<PathBuf> {
    let dir = std::env::var_os(SCREENSHOTS_ENV).filter(|d| !d.is_empty())?;
    let dir = Path::new(&dir);
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        crate::repo_root().join(dir)
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    Some(dir)
}

/// Environment variable naming the directory screenshots are written to.
pub const SCREENSHOTS_ENV: &str = "PORTCULLIS_SCREENSHOTS";

#[cfg(test)]
mod tests {
    use super::xpath_literal;

    #[test]
    fn xpath_literals_quote_either_quote() {
        assert_eq!(xpath_literal("Sign in"), "'Sign in'");
        assert_eq!(xpath_literal("it's"), "\"it's\"");
        assert_eq!(
            xpath_literal("it's \"x\""),
            "concat('it', \"'\", 's \"x\"')"
        );
    }
}
