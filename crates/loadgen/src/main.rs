//! `portcullis-loadgen`: replays an Okta-shaped SCIM 2.0 workload against a running server and
//! prints, per operation, the count, errors, throughput and latency percentiles.
//!
//! The bodies and query strings are the ones Okta sends (see
//! the IdP behaviour notes). Every run uses a fresh userName prefix so runs can
//! be repeated against the same database.

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::{header, Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod isolation;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCIM_JSON: &str = "application/scim+json";
const OKTA_AGENT: &str = "Okta SCIM Client 1.0.0";
const DOMAIN: &str = "acme.com";

#[derive(Parser, Debug)]
#[command(
    name = "portcullis-loadgen",
    about = "Replay an Okta-shaped SCIM workload and report throughput and latency per operation"
)]
struct Args {
    /// SCIM root, e.g. http://127.0.0.1:18100/scim/v2 (Portcullis) or http://127.0.0.1:18080/v2.
    #[arg(long)]
    url: String,
    /// Bearer token.
    #[arg(long, env = "LOADGEN_TOKEN", hide_env_values = true)]
    token: String,
    /// Users to provision (and the default operation count of get, filter and deactivate).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Which workload to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    scenario: Scenario,
    /// Concurrent workers (each keeps its own keep-alive connection).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Operations for get / filter / deactivate (default: one per user).
    #[arg(long)]
    ops: Option<usize>,
    /// Groups pushed by the `groups` scenario.
    #[arg(long, default_value_t = 1000)]
    groups: usize,
    /// Members put into the group of the `membership` scenario before measuring.
    #[arg(long, default_value_t = 10)]
    group_size: usize,
    /// Members per PATCH add while filling the membership group.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Measured single-member remove+add PATCHes in the `membership` scenario.
    #[arg(long, default_value_t = 2000)]
    membership_ops: usize,
    /// Workers for the measured membership PATCHes (each owns its own members). 1 measures pure
    /// latency; more than 1 puts concurrent PATCHes on the same group.
    #[arg(long, default_value_t = 1)]
    membership_concurrency: usize,
    /// Runtime threads of the load generator itself (keep low on a small machine).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// userName prefix (default: derived from the clock, unique per run).
    #[arg(long)]
    prefix: Option<String>,
    /// Label written with every result line in --results-file (e.g. `portcullis-sqlite`).
    #[arg(long, default_value = "server")]
    label: String,
    /// Append tab-separated result lines to this file.
    #[arg(long)]
    results_file: Option<std::path::PathBuf>,
    /// `signin`: the SAML ACS URL to post to (IdP-initiated, as an Okta tile does).
    #[arg(long)]
    acs: Option<String>,
    /// `signin`: a file of base64 `SAMLResponse` values, one per line, each used once (the
    /// replay cache refuses a second use).
    #[arg(long)]
    responses: Option<std::path::PathBuf>,
    /// `isolation`: what the noisy organization sends (`all`: each kind in turn).
    #[arg(long, value_enum, default_value_t = isolation::Noise::All)]
    noise: isolation::Noise,
    /// `isolation`: the noisy organization's token (its users are the ones scanned).
    #[arg(long, env = "LOADGEN_NOISY_TOKEN", hide_env_values = true)]
    noisy_token: Option<String>,
    /// `isolation`: concurrent noisy requests.
    #[arg(long, default_value_t = 16)]
    noisy_workers: usize,
    /// `isolation`: concurrent workers of the measured (quiet) organization.
    #[arg(long, default_value_t = 4)]
    quiet_workers: usize,
    /// `isolation`: seconds per phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// `isolation`: emails of the user the noisy PATCH works on.
    #[arg(long, default_value_t = 100)]
    patch_elements: usize,
    /// `isolation`: operations per noisy user PATCH (half adds, half value-filtered removes).
    #[arg(long, default_value_t = 1000)]
    patch_ops: usize,
    /// `isolation`: unknown member ids per noisy group PATCH (19,000 fits the 1 MiB body).
    #[arg(long, default_value_t = 19_000)]
    group_members: usize,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Provision,
    Get,
    Filter,
    Import,
    Deactivate,
    Groups,
    Membership,
    /// SAML sign-ins: each response of `--responses` posted once to `--acs`.
    Signin,
    /// One organization's most expensive requests while another's ordinary traffic is
    /// measured (`--noise`, `--noisy-token`).
    Isolation,
    /// Lists no index answers alone (a filter on an unindexed attribute, `co`, a sort on an
    /// unindexed attribute) over the organization's existing users: `--ops` requests
    /// (default four per worker). Refusals for load (429) count as errors.
    Scan,
    All,
}

/// The requests of the `scan` scenario, taken in turn.
const SCAN_REQUESTS: [(&str, &str); 4] = [
    (
        "GET ?filter title eq (none)",
        "/Users?filter=title%20eq%20%22no%20such%20title%22&count=100",
    ),
    (
        "GET ?filter givenName sw",
        "/Users?filter=name.givenName%20sw%20%22user1%22&count=100",
    ),
    (
        "GET ?filter userName co",
        "/Users?filter=userName%20co%20%22u99%22&count=100",
    ),
    (
        "GET ?sortBy=name.familyName",
        "/Users?sortBy=name.familyName&count=100",
    ),
];

fn main() -> Result<()> {
    let args = Args::parse();
    if args.concurrency == 0 || args.threads == 0 || args.batch == 0 {
        bail!("--concurrency, --threads and --batch must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(run(args))
}

/// One SCIM user created by this run.
#[derive(Clone, Debug)]
struct User {
    id: String,
    user_name: String,
}

/// One timed request.
struct Sample {
    op: &'static str,
    micros: u64,
    ok: bool,
}

/// HTTP client state shared by all workers.
struct Ctx {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    auth: String,
    errors_shown: AtomicUsize,
}

struct Reply {
    status: u16,
    body: Bytes,
}

impl Ctx {
    fn new(url: &str, token: &str, pool: usize) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(pool)
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ctx {
            client,
            base: url.trim_end_matches('/').to_string(),
            auth: format!("Bearer {token}"),
            errors_shown: AtomicUsize::new(0),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Reply> {
        let uri: Uri = format!("{}{}", self.base, path)
            .parse()
            .with_context(|| format!("bad URL {}{}", self.base, path))?;
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::USER_AGENT, OKTA_AGENT)
            .header(header::ACCEPT, SCIM_JSON)
            .header(header::AUTHORIZATION, &self.auth);
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, SCIM_JSON);
        }
        let request = builder.body(Full::new(body.unwrap_or_default()))?;
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Reply { status, body })
    }

    /// POSTs a form as a browser does (no bearer token) and returns the status and whether a
    /// session cookie was set.
    async fn post_form(&self, url: &Uri, form: String) -> Result<(u16, bool)> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))?;
        let response = self.client.request(request).await?;
        let status = response.status().as_u16();
        let session = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|v| v.as_bytes().starts_with(b"portcullis_session="));
        // Drain the body so the connection can be reused.
        response.into_body().collect().await?;
        Ok((status, session))
    }

    /// Sends one request, records it as `op`, and returns the body when the status is 2xx.
    async fn timed(
        &self,
        samples: &mut Vec<Sample>,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Option<Bytes> {
        let started = Instant::now();
        let result = self.call(method, path, body).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let (ok, out) = match result {
            Ok(reply) if (200..300).contains(&reply.status) => (true, Some(reply.body)),
            Ok(reply) => {
                self.show_error(
                    op,
                    &format!("HTTP {}: {}", reply.status, snippet(&reply.body)),
                );
                (false, None)
            }
            Err(err) => {
                self.show_error(op, &format!("{err:#}"));
                (false, None)
            }
        };
        samples.push(Sample { op, micros, ok });
        out
    }

    fn show_error(&self, op: &str, message: &str) {
        if self.errors_shown.fetch_add(1, Ordering::Relaxed) < 10 {
            eprintln!("error in {op}: {message}");
        }
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(300).collect()
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing into a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn filter_path(user_name: &str) -> String {
    format!(
        "/Users?filter={}&startIndex=1&count=100",
        encode(&format!("userName eq \"{user_name}\""))
    )
}

fn id_of(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("id")?.as_str().map(str::to_string)
}

// ---------------------------------------------------------------------------------------------
// Results

struct OpResult {
    phase: String,
    op: &'static str,
    count: usize,
    errors: usize,
    wall: Duration,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl OpResult {
    fn rate(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.count as f64 / secs
        } else {
            0.0
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted.get(index).copied().unwrap_or(0) as f64 / 1000.0
}

fn summarize(phase: &str, wall: Duration, samples: Vec<Sample>) -> Vec<OpResult> {
    let mut by_op: BTreeMap<&'static str, (Vec<u64>, usize)> = BTreeMap::new();
    let mut order: Vec<&'static str> = Vec::new();
    for sample in samples {
        let entry = by_op.entry(sample.op).or_insert_with(|| {
            order.push(sample.op);
            (Vec::new(), 0)
        });
        entry.0.push(sample.micros);
        if !sample.ok {
            entry.1 += 1;
        }
    }
    let mut results = Vec::new();
    for op in order {
        if let Some((mut lat, errors)) = by_op.remove(op) {
            lat.sort_unstable();
            results.push(OpResult {
                phase: phase.to_string(),
                op,
                count: lat.len(),
                errors,
                wall,
                p50_ms: percentile(&lat, 0.50),
                p99_ms: percentile(&lat, 0.99),
                max_ms: percentile(&lat, 1.0),
            });
        }
    }
    results
}

fn print_header() {
    println!(
        "{:<28} {:<34} {:>9} {:>6} {:>10} {:>9} {:>9} {:>9}",
        "phase", "operation", "count", "errors", "req/s", "p50 ms", "p99 ms", "max ms"
    );
}

fn print_result(r: &OpResult) {
    println!(
        "{:<28} {:<34} {:>9} {:>6} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
        r.phase,
        r.op,
        r.count,
        r.errors,
        r.rate(),
        r.p50_ms,
        r.p99_ms,
        r.max_ms
    );
}

// ---------------------------------------------------------------------------------------------
// Workers

/// Runs `workers` tasks; each calls `work(worker_index)` once and returns its samples.
async fn run_workers<F, Fut>(workers: usize, work: F) -> Result<(Duration, Vec<Sample>)>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Vec<Sample>> + Send + 'static,
{
    let started = Instant::now();
    let mut handles = Vec::with_capacity(workers);
    for w in 0..workers {
        handles.push(tokio::spawn(work(w)));
    }
    let mut samples = Vec::new();
    for handle in handles {
        samples.extend(handle.await.context("a worker task failed")?);
    }
    Ok((started.elapsed(), samples))
}

/// Runs operations `0..total` spread over `workers` tasks pulling from a shared counter.
async fn run_indexed<F, Fut>(workers: usize, total: usize, op: F) -> Result<(Duration, Vec<Sample>)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Sample>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    run_workers(workers.min(total.max(1)), move |_| {
        let op = op.clone();
        let next = next.clone();
        async move {
            let mut samples = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                samples.extend(op(i).await);
            }
            samples
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The run

struct Run {
    ctx: Arc<Ctx>,
    args: Args,
    prefix: String,
    /// Users created by this run, in creation order.
    users: Vec<User>,
    /// Next unused user number (userNames are `<prefix>.u<n>@acme.com`).
    next_user: usize,
    results: Vec<OpResult>,
}

fn user_name(prefix: &str, n: usize) -> String {
    format!("{prefix}.u{n}@{DOMAIN}")
}

/// The body Okta POSTs to /Users.
fn okta_user_body(prefix: &str, n: usize) -> Bytes {
    let name = user_name(prefix, n);
    let given = format!("User{n}");
    let family = format!("Load{prefix}");
    let body = json!({
        "schemas": [USER_SCHEMA],
        "userName": name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": name, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{:017x}", (n as u64) ^ 0x5eed_0000_0000),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    Bytes::from(body.to_string())
}

impl Run {
    fn record(&mut self, phase: &str, wall: Duration, samples: Vec<Sample>) -> Result<()> {
        let results = summarize(phase, wall, samples);
        for r in &results {
            print_result(r);
        }
        let _ = std::io::stdout().flush();
        if let Some(path) = &self.args.results_file {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            for r in &results {
                writeln!(
                    file,
                    "{}\t{}\t{}\t{}\t{}\t{:.0}\t{:.2}\t{:.2}\t{:.3}",
                    self.args.label,
                    r.phase,
                    r.op,
                    r.count,
                    r.errors,
                    r.rate(),
                    r.p50_ms,
                    r.p99_ms,
                    r.wall.as_secs_f64()
                )?;
            }
        }
        self.results.extend(results);
        Ok(())
    }

    /// Creates users with POST /Users only (no filter GET first); returns them in order.
    async fn create_users(&mut self, count: usize, phase: &str, okta_lookup: bool) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let first = self.next_user;
        self.next_user += count;
        let slots: Arc<Vec<OnceLock<User>>> =
            Arc::new((0..count).map(|_| OnceLock::new()).collect());
        let ctx = self.ctx.clone();
        let prefix = self.prefix.clone();
        let out = slots.clone();
        let (wall, samples) = run_indexed(self.args.concurrency, count, move |i| {
            let ctx = ctx.clone();
            let prefix = prefix.clone();
            let out = out.clone();
            async move {
                let n = first + i;
                let name = user_name(&prefix, n);
                let mut samples = Vec::with_capacity(2);
                if okta_lookup {
                    let path = filter_path(&name);
                    ctx.timed(
                        &mut samples,
                        "GET ?filter userName eq (absent)",
                        Method::GET,
                        &path,
                        None,
                    )
                    .await;
                }
                let body = okta_user_body(&prefix, n);
                if let Some(reply) = ctx
                    .timed(
                        &mut samples,
                        "POST /Users",
                        Method::POST,
                        "/Users",
                        Some(body),
                    )
                    .await
                {
                    if let (Some(id), Some(slot)) = (id_of(&reply), out.get(i)) {
                        let _ = slot.set(User {
                            id,
                            user_name: name,
                        });
                    }
                }
                samples
            }
        })
        .await?;
        self.record(phase, wall, samples)?;
        let created: Vec<User> = slots.iter().filter_map(|s| s.get().cloned()).collect();
        if created.len() < count {
            eprintln!(
                "warning: {} of {count} users were not created",
                count - created.len()
            );
        }
        self.users.extend(created);
        Ok(())
    }

    async fn ensure_users(&mut self, count: usize) -> Result<()> {
        if self.users.len() < count {
            let missing = count - self.users.len();
            self.create_users(missing, "setup (users)", false).await?;
        }
        if self.users.len() < count {
            bail!("could create only {} of {count} users", self.users.len());
        }
        Ok(())
    }

    async fn provision(&mut self) -> Result<()> {
        let n = self.args.users;
        let started = Instant::now();
        self.create_users(n, "provision", true).await?;
        let wall = started.elapsed();
        println!(
            "{:<28} {n} users provisioned (filter GET + POST each) in {:.2} s = {:.0} users/s",
            "provision total",
            wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64().max(1e-9)
        );
        if let Some(path) = &self.args.results_file {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(
                file,
                "{}\tprovision\ttotal wall\t{n}\t0\t{:.0}\t0\t0\t{:.3}",
                self.args.label,
                n as f64 / wall.as_secs_f64().max(1e-9),
                wall.as_secs_f64()
            )?;
        }
        Ok(())
    }

    fn ops(&self) -> usize {
        self.args.ops.unwrap_or(self.args.users)
    }

    async fn per_user<F>(
        &mut self,
        phase: &str,
        op: &'static str,
        method: Method,
        build: F,
    ) -> Result<()>
    where
        F: Fn(&User) -> (String, Option<Bytes>) + Send + Sync + 'static,
    {
        self.ensure_users(self.args.users.max(1)).await?;
        let users = Arc::new(self.users.clone());
        let ctx = self.ctx.clone();
        let total = self.ops();
        let (wall, samples) = run_indexed(self.args.concurrency, total, move |i| {
            let ctx = ctx.clone();
            let user = users.get(i % users.len().max(1)).cloned();
            let (path, body) = match &user {
                Some(user) => build(user),
                None => (String::new(), None),
            };
            let method = method.clone();
            async move {
                let mut samples = Vec::with_capacity(1);
                ctx.timed(&mut samples, op, method, &path, body).await;
                samples
            }
        })
        .await?;
        self.record(phase, wall, samples)
    }

    async fn get(&mut self) -> Result<()> {
        self.per_user("get", "GET /Users/{id}", Method::GET, |u| {
            (format!("/Users/{}", u.id), None)
        })
        .await
    }

    async fn filter(&mut self) -> Result<()> {
        self.per_user(
            "filter",
            "GET ?filter userName eq (hit)",
            Method::GET,
            |u| (filter_path(&u.user_name), None),
        )
        .await
    }

    async fn scan(&mut self) -> Result<()> {
        let total = self.args.ops.unwrap_or(4 * self.args.concurrency);
        let ctx = self.ctx.clone();
        let (wall, samples) = run_indexed(self.args.concurrency, total, move |i| {
            let ctx = ctx.clone();
            let (op, path) = SCAN_REQUESTS[i % SCAN_REQUESTS.len()];
            async move {
                let mut samples = Vec::with_capacity(1);
                ctx.timed(&mut samples, op, Method::GET, path, None).await;
                samples
            }
        })
        .await?;
        self.record("scan", wall, samples)
    }

    async fn deactivate(&mut self) -> Result<()> {
        let body = Bytes::from(
            json!({
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "replace", "value": {"active": false}}]
            })
            .to_string(),
        );
        self.per_user(
            "deactivate",
            "PATCH /Users active=false",
            Method::PATCH,
            move |u| (format!("/Users/{}", u.id), Some(body.clone())),
        )
        .await
    }

    async fn import(&mut self) -> Result<()> {
        self.ensure_users(self.args.users.max(1)).await?;
        let first = self
            .ctx
            .call(Method::GET, "/Users?startIndex=1&count=100", None)
            .await?;
        if first.status != 200 {
            bail!(
                "import: first page answered {}: {}",
                first.status,
                snippet(&first.body)
            );
        }
        let page: Value =
            serde_json::from_slice(&first.body).context("import: first page is not JSON")?;
        let total = page
            .get("totalResults")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("import: no integer totalResults"))?;
        let pages = usize::try_from(total.div_ceil(100))?;
        let ctx = self.ctx.clone();
        let (wall, samples) = run_indexed(self.args.concurrency, pages, move |k| {
            let ctx = ctx.clone();
            async move {
                let mut samples = Vec::with_capacity(1);
                let path = format!("/Users?startIndex={}&count=100", 1 + 100 * k);
                ctx.timed(
                    &mut samples,
                    "GET /Users page of 100",
                    Method::GET,
                    &path,
                    None,
                )
                .await;
                samples
            }
        })
        .await?;
        println!("{:<28} {total} users in {pages} pages", "import");
        self.record("import", wall, samples)
    }

    async fn groups(&mut self) -> Result<()> {
        let ctx = self.ctx.clone();
        let prefix = self.prefix.clone();
        let (wall, samples) = run_indexed(self.args.concurrency, self.args.groups, move |i| {
            let ctx = ctx.clone();
            let body = Bytes::from(
                json!({"schemas": [GROUP_SCHEMA], "displayName": format!("{prefix} Group {i}"), "members": []})
                    .to_string(),
            );
            async move {
                let mut samples = Vec::with_capacity(1);
                ctx.timed(&mut samples, "POST /Groups", Method::POST, "/Groups", Some(body))
                    .await;
                samples
            }
        })
        .await?;
        self.record("groups", wall, samples)
    }

    async fn membership(&mut self) -> Result<()> {
        let size = self.args.group_size.max(1);
        let spares = size.min(1000);
        self.ensure_users(size + spares).await?;
        let phase = match self.args.membership_concurrency {
            1 => format!("membership M={size}"),
            c => format!("membership M={size} c={c}"),
        };

        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": format!("{} Big {size}", self.prefix), "members": []});
        let reply = self
            .ctx
            .call(Method::POST, "/Groups", Some(Bytes::from(body.to_string())))
            .await?;
        if reply.status != 201 && reply.status != 200 {
            bail!(
                "membership: creating the group answered {}: {}",
                reply.status,
                snippet(&reply.body)
            );
        }
        let group = id_of(&reply.body).ok_or_else(|| anyhow!("membership: group without id"))?;
        let group_path = Arc::new(format!("/Groups/{group}"));

        // Fill: large PATCH add batches.
        let members = Arc::new(self.users.get(..size).unwrap_or_default().to_vec());
        let batch = self.args.batch;
        let batches = size.div_ceil(batch);
        let ctx = self.ctx.clone();
        let gp = group_path.clone();
        let ms = members.clone();
        let (wall, samples) = run_indexed(self.args.concurrency, batches, move |b| {
            let ctx = ctx.clone();
            let gp = gp.clone();
            let end = ((b + 1) * batch).min(ms.len());
            let value: Vec<Value> = ms
                .get(b * batch..end)
                .unwrap_or_default()
                .iter()
                .map(|u| json!({"value": u.id, "display": u.user_name}))
                .collect();
            let body = Bytes::from(
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": value}]})
                    .to_string(),
            );
            async move {
                let mut samples = Vec::with_capacity(1);
                // A refused batch (409 under concurrent changes) is retried, so the group really
                // reaches its size; every attempt is recorded.
                for attempt in 0..5u64 {
                    let done = ctx
                        .timed(&mut samples, "fill PATCH add (batch)", Method::PATCH, &gp, Some(body.clone()))
                        .await;
                    if done.is_some() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
                }
                samples
            }
        })
        .await?;
        println!(
            "{:<28} filled to {size} members in {batches} PATCHes of up to {batch} in {:.2} s",
            phase,
            wall.as_secs_f64()
        );
        self.record(&format!("{phase} fill"), wall, samples)?;

        // Measure: Okta's two-operation body (remove one member, add another), group size constant.
        let spare_users = Arc::new(
            self.users
                .get(size..size + spares)
                .unwrap_or_default()
                .to_vec(),
        );
        let workers = self.args.membership_concurrency.clamp(1, spares);
        let total_ops = self.args.membership_ops;
        let ctx = self.ctx.clone();
        let (wall, samples) = run_workers(workers, move |w| {
            let ctx = ctx.clone();
            let gp = group_path.clone();
            let members = members.clone();
            let spare_users = spare_users.clone();
            let per_worker = total_ops / workers + usize::from(w < total_ops % workers);
            async move {
                let pairs: Vec<usize> = (w..spares).step_by(workers).collect();
                let mut swapped = vec![false; pairs.len()];
                let mut samples = Vec::with_capacity(per_worker);
                for k in 0..per_worker {
                    let slot = k % pairs.len().max(1);
                    let (Some(&p), Some(flag)) = (pairs.get(slot), swapped.get_mut(slot)) else {
                        break;
                    };
                    let (Some(a), Some(b)) = (members.get(p), spare_users.get(p)) else {
                        break;
                    };
                    let (out, into) = if *flag { (b, a) } else { (a, b) };
                    *flag = !*flag;
                    let body = Bytes::from(
                        json!({
                            "schemas": [PATCH_SCHEMA],
                            "Operations": [
                                {"op": "remove", "path": format!("members[value eq \"{}\"]", out.id)},
                                {"op": "add", "path": "members", "value": [{"value": into.id, "display": into.user_name}]}
                            ]
                        })
                        .to_string(),
                    );
                    ctx.timed(&mut samples, "PATCH members remove+add", Method::PATCH, &gp, Some(body))
                        .await;
                }
                samples
            }
        })
        .await?;
        self.record(&phase, wall, samples)
    }
}

impl Run {
    /// Posts every response once to the ACS; a sign-in counts when it answers a redirect
    /// that sets the session cookie.
    async fn signin(&mut self) -> Result<()> {
        let (Some(acs), Some(file)) = (&self.args.acs, &self.args.responses) else {
            bail!("the signin scenario needs --acs and --responses");
        };
        let acs: Uri = acs.parse().with_context(|| format!("bad ACS URL {acs}"))?;
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let forms: Arc<Vec<String>> = Arc::new(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("SAMLResponse={}&RelayState=%2Fme", encode(l.trim())))
                .collect(),
        );
        let total = forms.len();
        let ctx = self.ctx.clone();
        let (wall, samples) = run_indexed(self.args.concurrency, total, move |i| {
            let (ctx, forms, acs) = (ctx.clone(), forms.clone(), acs.clone());
            async move {
                let started = Instant::now();
                let outcome = ctx.post_form(&acs, forms[i].clone()).await;
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                let ok = match outcome {
                    Ok((302 | 303, true)) => true,
                    Ok((status, session)) => {
                        ctx.show_error(
                            "signin",
                            &format!("HTTP {status}, session cookie set: {session}"),
                        );
                        false
                    }
                    Err(err) => {
                        ctx.show_error("signin", &format!("{err:#}"));
                        false
                    }
                };
                vec![Sample {
                    op: "POST ACS (SAML sign-in)",
                    micros,
                    ok,
                }]
            }
        })
        .await?;
        self.record("signin", wall, samples)
    }
}

/// `http://host:port` of a SCIM root URL such as `http://host:port/scim/v2`.
fn server_root(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => url[..after_scheme + slash].to_string(),
        None => url.trim_end_matches('/').to_string(),
    }
}

async fn run(args: Args) -> Result<()> {
    let prefix = match &args.prefix {
        Some(p) => p.clone(),
        None => {
            // A run-unique prefix from the wall clock: the load generator talks HTTP to a
            // server and has no clock of its own to ask.
            #[allow(clippy::disallowed_methods)]
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
            format!("lg{:x}", now.as_millis())
        }
    };
    let ctx = Arc::new(Ctx::new(
        &args.url,
        &args.token,
        args.concurrency.max(args.membership_concurrency),
    ));

    // Okta's "Test API Credentials" first: fail fast on a wrong URL or token.
    let probe = ctx
        .call(Method::GET, "/Users?startIndex=1&count=2", None)
        .await
        .with_context(|| format!("cannot reach {}", args.url))?;
    if probe.status != 200 {
        bail!(
            "Test API Credentials answered {}: {}",
            probe.status,
            snippet(&probe.body)
        );
    }
    println!(
        "# {} scenario={:?} users={} concurrency={} prefix={}",
        args.url, args.scenario, args.users, args.concurrency, prefix
    );
    print_header();

    let scenario = args.scenario;
    let mut run = Run {
        ctx,
        args,
        prefix,
        users: Vec::new(),
        next_user: 0,
        results: Vec::new(),
    };
    match scenario {
        Scenario::Provision => run.provision().await?,
        Scenario::Get => run.get().await?,
        Scenario::Filter => run.filter().await?,
        Scenario::Import => run.import().await?,
        Scenario::Deactivate => run.deactivate().await?,
        Scenario::Groups => run.groups().await?,
        Scenario::Membership => run.membership().await?,
        Scenario::Signin => run.signin().await?,
        Scenario::Isolation => {
            let settings = isolation::Settings {
                noise: run.args.noise,
                noisy_token: run.args.noisy_token.clone(),
                noisy_workers: run.args.noisy_workers.max(1),
                quiet_workers: run.args.quiet_workers.max(1),
                seconds: run.args.seconds.max(1),
                patch_elements: run.args.patch_elements,
                patch_ops: run.args.patch_ops,
                group_members: run.args.group_members,
                root: server_root(&run.args.url),
            };
            run.isolation(&settings).await?
        }
        Scenario::Scan => run.scan().await?,
        Scenario::All => {
            run.provision().await?;
            run.get().await?;
            run.filter().await?;
            run.import().await?;
            run.deactivate().await?;
            run.groups().await?;
            run.membership().await?;
        }
    }
    let errors: usize = run.results.iter().map(|r| r.errors).sum();
    if errors > 0 {
        eprintln!("{errors} requests failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_okta_filter() {
        assert_eq!(
            filter_path("test.user@okta.local"),
            "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"
        );
    }

    #[test]
    fn server_root_drops_the_path() {
        assert_eq!(
            server_root("http://127.0.0.1:1/scim/v2"),
            "http://127.0.0.1:1"
        );
        assert_eq!(server_root("http://127.0.0.1:1/"), "http://127.0.0.1:1");
        assert_eq!(server_root("http://127.0.0.1:1"), "http://127.0.0.1:1");
    }

    #[test]
    fn percentiles() {
        let lat: Vec<u64> = (1..=100).map(|v| v * 1000).collect();
        assert!((percentile(&lat, 0.5) - 50.0).abs() < 1e-9);
        assert!((percentile(&lat, 0.99) - 99.0).abs() < 1e-9);
        assert!((percentile(&lat, 1.0) - 100.0).abs() < 1e-9);
    }
}
