//! `isolation`: one organization (the noisy one) sends its most expensive allowed requests at
//! full tilt while another organization's ordinary Okta traffic is measured. What it shows is
//! whether one tenant can make the others wait: the quiet organization's p99 per operation,
//! next to a phase with no noise at all.
//!
//! The noisy organization is expected to hold many users already (`portcullis
//! bench-load-users`: `u0000000@<domain>`, family names `L0000000`…), so its scans have
//! something to read.

use crate::{id_of, snippet, Ctx, Run, Sample, GROUP_SCHEMA, PATCH_SCHEMA, USER_SCHEMA};
use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use clap::ValueEnum;
use hyper::{header, Method, Request, Uri};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the noisy organization sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Noise {
    /// Nothing: the quiet organization's baseline.
    Quiet,
    /// `GET /Users?filter=name.familyName co "…"`: no index serves it, every user is examined.
    Filter,
    /// `GET /Users?sortBy=name.familyName&sortOrder=descending&count=100`.
    Sort,
    /// `POST /.search` at the root (users and groups) with a non-indexed filter.
    Search,
    /// PATCH of a user holding `--patch-elements` emails, `--patch-ops` value-filtered
    /// operations per request.
    Patch,
    /// PATCH of a group adding `--group-members` member ids that name nobody.
    GroupPatch,
    /// Console password sign-ins for an organization that does not exist (argon2 each).
    Signin,
    /// Every kind above in turn, one phase each.
    All,
}

impl Noise {
    fn phases(self) -> Vec<Noise> {
        match self {
            Noise::All => vec![
                Noise::Quiet,
                Noise::Filter,
                Noise::Sort,
                Noise::Search,
                Noise::Patch,
                Noise::GroupPatch,
                Noise::Signin,
            ],
            one => vec![one],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Noise::Quiet => "quiet",
            Noise::Filter => "noise: filter co",
            Noise::Sort => "noise: sortBy",
            Noise::Search => "noise: /.search",
            Noise::Patch => "noise: user PATCH",
            Noise::GroupPatch => "noise: group PATCH",
            Noise::Signin => "noise: console sign-in",
            Noise::All => "all",
        }
    }

    /// The sample name of a noisy request answered `status`: shed load is told apart from
    /// work done and from failures.
    fn op(self, status: u16) -> &'static str {
        let shed = status == 429 || status == 503;
        match (self, shed) {
            (Noise::Filter, false) => "noisy GET filter co",
            (Noise::Filter, true) => "noisy GET filter co (shed)",
            (Noise::Sort, false) => "noisy GET sortBy",
            (Noise::Sort, true) => "noisy GET sortBy (shed)",
            (Noise::Search, false) => "noisy POST /.search",
            (Noise::Search, true) => "noisy POST /.search (shed)",
            (Noise::Patch, false) => "noisy PATCH user",
            (Noise::Patch, true) => "noisy PATCH user (shed)",
            (Noise::GroupPatch, false) => "noisy PATCH group",
            (Noise::GroupPatch, true) => "noisy PATCH group (shed)",
            (Noise::Signin, false) => "noisy POST /console/login",
            (Noise::Signin, true) => "noisy POST /console/login (shed)",
            (Noise::Quiet | Noise::All, _) => "noisy (none)",
        }
    }
}

/// Settings of the isolation scenario (from the command line).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub noise: Noise,
    pub noisy_token: Option<String>,
    pub noisy_workers: usize,
    pub quiet_workers: usize,
    pub seconds: u64,
    pub patch_elements: usize,
    pub patch_ops: usize,
    pub group_members: usize,
    /// The server's root (scheme, host, port), for the console.
    pub root: String,
}

/// A request the noisy organization sends over and over.
#[derive(Clone)]
struct NoisyRequest {
    method: Method,
    path: String,
    body: Option<Bytes>,
}

impl Run {
    pub(crate) async fn isolation(&mut self, settings: &Settings) -> Result<()> {
        let needs_token = settings
            .noise
            .phases()
            .iter()
            .any(|n| !matches!(n, Noise::Quiet | Noise::Signin));
        let noisy = match &settings.noisy_token {
            Some(token) => Some(Arc::new(Ctx::new(
                &self.ctx.base,
                token,
                settings.noisy_workers,
            ))),
            None if needs_token => bail!("--noisy-token is needed for noise {:?}", settings.noise),
            None => None,
        };
        // The quiet organization's own users, read and changed during every phase.
        self.ensure_users(settings.quiet_workers.max(1) * 4).await?;
        for noise in settings.noise.phases() {
            let requests = match (&noisy, noise) {
                (_, Noise::Quiet | Noise::Signin | Noise::All) => Vec::new(),
                (Some(ctx), kind) => prepare(ctx, kind, settings).await?,
                (None, _) => Vec::new(),
            };
            self.phase(noise, noisy.clone(), requests, settings).await?;
        }
        Ok(())
    }

    /// Runs the quiet organization's mix and, at the same time, the noise, for the set time.
    async fn phase(
        &mut self,
        noise: Noise,
        noisy: Option<Arc<Ctx>>,
        requests: Vec<NoisyRequest>,
        settings: &Settings,
    ) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(settings.seconds);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        if noise != Noise::Quiet {
            let requests = Arc::new(requests);
            let next = Arc::new(AtomicUsize::new(0));
            for _ in 0..settings.noisy_workers {
                let (requests, next) = (requests.clone(), next.clone());
                let noisy = noisy.clone();
                let console = Arc::new(Ctx::new(&settings.root, "", 1));
                tasks.spawn(async move {
                    let mut samples = Vec::new();
                    while Instant::now() < deadline {
                        let sample = match (noise, &noisy) {
                            (Noise::Signin, _) => console_sign_in(&console).await,
                            (_, Some(ctx)) if !requests.is_empty() => {
                                let i = next.fetch_add(1, Ordering::Relaxed) % requests.len();
                                match requests.get(i) {
                                    Some(r) => noisy_call(ctx, noise, r).await,
                                    None => break,
                                }
                            }
                            _ => break,
                        };
                        samples.push(sample);
                    }
                    samples
                });
            }
        }
        let users = Arc::new(self.users.clone());
        let prefix = self.prefix.clone();
        let created = Arc::new(AtomicUsize::new(self.next_user + 1_000_000));
        for w in 0..settings.quiet_workers {
            let (ctx, users, prefix, created) = (
                self.ctx.clone(),
                users.clone(),
                prefix.clone(),
                created.clone(),
            );
            tasks.spawn(
                async move { quiet_mix(&ctx, w, &users, &prefix, &created, deadline).await },
            );
        }
        let mut samples = Vec::new();
        while let Some(done) = tasks.join_next().await {
            samples.extend(done.context("a worker task failed")?);
        }
        self.record(noise.name(), started.elapsed(), samples)
    }
}

/// The quiet organization's traffic, round robin: create a user, read one, look one up by
/// userName as Okta does, deactivate and reactivate one.
async fn quiet_mix(
    ctx: &Ctx,
    worker: usize,
    users: &[crate::User],
    prefix: &str,
    created: &AtomicUsize,
    deadline: Instant,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut k = worker;
    while Instant::now() < deadline {
        let Some(user) = users.get(k % users.len().max(1)) else {
            break;
        };
        match k % 4 {
            0 => {
                let n = created.fetch_add(1, Ordering::Relaxed);
                let body = crate::okta_user_body(prefix, n);
                ctx.timed(
                    &mut samples,
                    "quiet POST /Users",
                    Method::POST,
                    "/Users",
                    Some(body),
                )
                .await;
            }
            1 => {
                let path = format!("/Users/{}", user.id);
                ctx.timed(
                    &mut samples,
                    "quiet GET /Users/{id}",
                    Method::GET,
                    &path,
                    None,
                )
                .await;
            }
            2 => {
                let path = crate::filter_path(&user.user_name);
                ctx.timed(
                    &mut samples,
                    "quiet GET filter userName eq",
                    Method::GET,
                    &path,
                    None,
                )
                .await;
            }
            _ => {
                let active = (k / 4) % 2 == 1;
                let body = Bytes::from(
                    json!({"schemas": [PATCH_SCHEMA],
                           "Operations": [{"op": "replace", "value": {"active": active}}]})
                    .to_string(),
                );
                let path = format!("/Users/{}", user.id);
                ctx.timed(
                    &mut samples,
                    "quiet PATCH active",
                    Method::PATCH,
                    &path,
                    Some(body),
                )
                .await;
            }
        }
        k += 1;
    }
    samples
}

async fn noisy_call(ctx: &Ctx, noise: Noise, request: &NoisyRequest) -> Sample {
    let started = Instant::now();
    let reply = ctx
        .call(request.method.clone(), &request.path, request.body.clone())
        .await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match reply {
        Ok(reply) => {
            let ok = (200..300).contains(&reply.status) || matches!(reply.status, 429 | 503);
            if !ok {
                ctx.show_error(
                    noise.op(reply.status),
                    &format!("HTTP {}: {}", reply.status, snippet(&reply.body)),
                );
            }
            Sample {
                op: noise.op(reply.status),
                micros,
                ok,
            }
        }
        Err(e) => {
            ctx.show_error(noise.op(0), &format!("{e:#}"));
            Sample {
                op: noise.op(0),
                micros,
                ok: false,
            }
        }
    }
}

/// Builds the noisy organization's requests (and whatever they act on).
async fn prepare(ctx: &Ctx, noise: Noise, s: &Settings) -> Result<Vec<NoisyRequest>> {
    let get = |path: String| NoisyRequest {
        method: Method::GET,
        path,
        body: None,
    };
    let encode = crate::encode;
    Ok(match noise {
        Noise::Filter => (0..10)
            .map(|d| {
                let filter = format!("name.familyName co \"{d}{d}{d}\"");
                get(format!("/Users?filter={}&count=100", encode(&filter)))
            })
            .collect(),
        Noise::Sort => vec![
            get("/Users?sortBy=name.familyName&sortOrder=descending&count=100".into()),
            get("/Users?sortBy=displayName&startIndex=901&count=100".into()),
        ],
        Noise::Search => (0..10)
            .map(|d| NoisyRequest {
                method: Method::POST,
                path: "/.search".into(),
                body: Some(Bytes::from(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                           "filter": format!("displayName ew \"{d}{d}\""), "count": 100})
                    .to_string(),
                )),
            })
            .collect(),
        Noise::Patch => vec![heavy_user_patch(ctx, s).await?],
        Noise::GroupPatch => vec![unknown_members_patch(ctx, s).await?],
        Noise::Quiet | Noise::Signin | Noise::All => Vec::new(),
    })
}

/// A user with `patch_elements` emails, and a PATCH of `patch_ops` value-filtered replaces,
/// each naming one of those emails (`emails[value eq "…"].display`): every operation has to
/// find its element among all of them, and the user really changes, so every request writes.
async fn heavy_user_patch(ctx: &Ctx, s: &Settings) -> Result<NoisyRequest> {
    let tag = std::process::id();
    let elements = s.patch_elements.max(1);
    let email = |i: usize| format!("heavy{tag}.{i}@noisy.example");
    let emails: Vec<Value> = (0..elements)
        .map(|i| json!({"value": email(i), "type": "other"}))
        .collect();
    let body = json!({"schemas": [USER_SCHEMA], "userName": format!("heavy{tag}@noisy.example"),
                      "emails": emails});
    let reply = ctx
        .call(Method::POST, "/Users", Some(Bytes::from(body.to_string())))
        .await?;
    if reply.status != 201 {
        bail!(
            "creating the user with {elements} emails answered {}: {}",
            reply.status,
            snippet(&reply.body)
        );
    }
    let id = id_of(&reply.body).context("the created user has no id")?;
    // A run-unique name from the wall clock: the load generator talks HTTP to a server and
    // has no clock of its own to ask.
    #[allow(clippy::disallowed_methods)]
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let ops: Vec<Value> = (0..s.patch_ops)
        .map(|k| {
            // From the last email backwards: the element searched for is never near the front.
            let i = elements - 1 - (k % elements);
            json!({"op": "replace", "path": format!("emails[value eq \"{}\"].display", email(i)),
                   "value": format!("checked {stamp}.{k}")})
        })
        .collect();
    Ok(NoisyRequest {
        method: Method::PATCH,
        path: format!("/Users/{id}"),
        body: Some(Bytes::from(
            json!({"schemas": [PATCH_SCHEMA], "Operations": ops}).to_string(),
        )),
    })
}

/// Members per `add` operation of the noisy group PATCH (the server allows 10,000).
const MEMBERS_PER_OPERATION: usize = 9_500;

/// A group, and a PATCH adding `group_members` ids that name no user or group.
async fn unknown_members_patch(ctx: &Ctx, s: &Settings) -> Result<NoisyRequest> {
    let tag = std::process::id();
    let body =
        json!({"schemas": [GROUP_SCHEMA], "displayName": format!("noisy {tag}"), "members": []});
    let reply = ctx
        .call(Method::POST, "/Groups", Some(Bytes::from(body.to_string())))
        .await?;
    if reply.status != 201 {
        bail!(
            "creating the group answered {}: {}",
            reply.status,
            snippet(&reply.body)
        );
    }
    let id = id_of(&reply.body).context("the created group has no id")?;
    let members: Vec<Value> = (0..s.group_members)
        .map(|i| json!({"value": format!("00000000-0000-4000-8000-{i:012x}")}))
        .collect();
    // The server takes at most 10,000 members per operation: the list is cut in such parts.
    let ops: Vec<Value> = members
        .chunks(MEMBERS_PER_OPERATION)
        .map(|part| json!({"op": "add", "path": "members", "value": part}))
        .collect();
    Ok(NoisyRequest {
        method: Method::PATCH,
        path: format!("/Groups/{id}"),
        body: Some(Bytes::from(
            json!({"schemas": [PATCH_SCHEMA], "Operations": ops}).to_string(),
        )),
    })
}

/// One console sign-in for an organization that does not exist: the form's CSRF token comes
/// from a GET of the form, as a browser's does.
async fn console_sign_in(console: &Ctx) -> Sample {
    let started = Instant::now();
    let outcome = try_console_sign_in(console).await;
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    match outcome {
        Ok(status) => Sample {
            op: Noise::Signin.op(status),
            micros,
            // Refused sign-ins are the expected answer; only a server error is a failure.
            ok: status < 500 || status == 503,
        },
        Err(e) => {
            console.show_error("console sign-in", &format!("{e:#}"));
            Sample {
                op: Noise::Signin.op(0),
                micros,
                ok: false,
            }
        }
    }
}

async fn try_console_sign_in(console: &Ctx) -> Result<u16> {
    let url: Uri = format!("{}/console/login", console.base).parse()?;
    let form = console
        .client
        .request(
            Request::builder()
                .uri(url.clone())
                .body(http_body_util::Full::new(Bytes::new()))?,
        )
        .await?;
    let cookie = form
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("portcullis_csrf="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .context("the sign-in form set no CSRF cookie")?;
    http_body_util::BodyExt::collect(form.into_body()).await?;
    static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);
    let n = ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    let body = format!(
        "csrf={}&organization=nobody-{n}&email=someone%40nowhere.example&password=not-the-password-{n}",
        crate::encode(&cookie)
    );
    let response = console
        .client
        .request(
            Request::builder()
                .method(Method::POST)
                .uri(url)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("portcullis_csrf={cookie}"))
                .body(http_body_util::Full::new(Bytes::from(body)))?,
        )
        .await?;
    let status = response.status().as_u16();
    http_body_util::BodyExt::collect(response.into_body()).await?;
    Ok(status)
}
