//! The HTTP serving loop: HTTP/1 connections with a header read timeout, a body read timeout,
//! an idle keep-alive timeout, a response write timeout and a cap on open connections.
//!
//! `axum::serve` has none of these, and hyper's own `header_read_timeout` starts whenever
//! hyper waits for a request head, which includes the idle wait between keep-alive requests:
//! with it the idle timeout could never be longer than the header timeout. So each connection
//! here tracks which phase it is in (see [`Phase`]) from its socket reads and its requests,
//! and a watchdog next to the connection closes it when the phase's time is up.
//!
//! The same [`serve`] runs the production server (`portcullis serve`) and the test servers.

use super::errors::{ApiError, ScimErrorResponse};
use super::pages::error_page;
use super::request_id::RequestId;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep_until, Instant, Sleep};
use tower::ServiceExt;

/// A request head (request line and headers) must arrive within this time of the
/// connection's opening or of its first byte.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request body must not pause longer than this between two of its chunks.
pub const BODY_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A whole request body must arrive within this time of its request head (512 KiB, the
/// largest body accepted anywhere, is 60 s at under 9 KB/s).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// A keep-alive connection with no request under way is closed after this time.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A response must be written (taken by the client) within this time of being ready.
pub const RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Descriptors kept out of the default connection cap: the database (SQLite's file, WAL and
/// shared memory per reader thread, or PostgreSQL's pool), the listener, logs, and the
/// refusals being written.
pub const DESCRIPTOR_RESERVE: u64 = 256;
/// The default connection cap is never larger than this, however high the descriptor limit:
/// each connection may hold up to [`MAX_REQUEST_HEAD_BYTES`] of buffer.
pub const DEFAULT_MAX_CONNECTIONS_CEILING: usize = 8_192;
/// Nor smaller than this, on a machine whose descriptor limit is tiny.
pub const DEFAULT_MAX_CONNECTIONS_FLOOR: usize = 64;
/// A request head larger than this is answered 431 by hyper (its read buffer's size).
pub const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;
/// Connections refused past the cap that may be answered at once; past this they are closed
/// without an answer, so refusing never needs more than this many extra descriptors.
pub const REFUSALS_IN_FLIGHT: usize = 32;
/// The time a refused connection gets to take its 503 before it is closed.
pub const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// What a connection refused past the cap is told to wait.
pub const REFUSAL_RETRY_AFTER_SECONDS: u64 = 1;
/// After the shutdown signal, open connections get this long to finish their request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// The first pause after a failed `accept` (EMFILE and the like); it doubles up to
/// [`ACCEPT_BACKOFF_MAX`] while accepting keeps failing.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The limits of one server; [`ServeLimits::default`] is the production configuration.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    pub header_read_timeout: Duration,
    pub body_stall_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub response_write_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_stall_timeout: BODY_STALL_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            response_write_timeout: RESPONSE_WRITE_TIMEOUT,
            max_connections: default_max_connections(current_descriptor_limit()),
        }
    }
}

/// The process's soft descriptor limit, if the platform has one.
pub fn current_descriptor_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Raises the soft descriptor limit to the hard limit; returns (before, after).
pub fn raise_descriptor_limit() -> std::io::Result<(Option<u64>, u64)> {
    let before = current_descriptor_limit();
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}

/// The connection cap for a descriptor limit: the limit less [`DESCRIPTOR_RESERVE`], within
/// [`DEFAULT_MAX_CONNECTIONS_FLOOR`]..=[`DEFAULT_MAX_CONNECTIONS_CEILING`].
pub fn default_max_connections(descriptor_limit: Option<u64>) -> usize {
    let Some(limit) = descriptor_limit else {
        return DEFAULT_MAX_CONNECTIONS_CEILING;
    };
    let room = usize::try_from(limit.saturating_sub(DESCRIPTOR_RESERVE)).unwrap_or(usize::MAX);
    room.clamp(
        DEFAULT_MAX_CONNECTIONS_FLOOR,
        DEFAULT_MAX_CONNECTIONS_CEILING,
    )
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// for up to [`SHUTDOWN_GRACE`].
///
/// Every request carries `ConnectInfo<SocketAddr>` (the TCP peer) and [`PeerConnection`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let open = Arc::new(Semaphore::new(max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let limits = Arc::new(limits);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                match open.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (router, limits, stop) =
                            (router.clone(), limits.clone(), stop_rx.clone());
                        tokio::spawn(serve_connection(stream, peer, router, limits, stop, permit));
                    }
                    Err(_) => refuse(stream, peer, &refusals, max_connections),
                }
            }
            // The peer gave up before we accepted: nothing to wait for.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::Interrupted
                ) => {}
            // Out of descriptors (EMFILE, ENFILE) or memory: accepting again at once would fail
            // again at once, so pause, longer each time, instead of spinning a core.
            Err(e) => {
                tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "cannot accept connections; pausing");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it ends: all permits back means all are done.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, open.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// Answers a connection past the cap with a 503 written by hand, so the client learns why and
/// when to retry instead of waiting on a listen queue. The answer goes out before the request
/// is read (HTTP clients read an early response); the request is then read and dropped for a
/// moment so that closing does not reset the connection under the answer.
fn refuse(stream: TcpStream, peer: SocketAddr, refusals: &Arc<Semaphore>, cap: usize) {
    metrics::counter!("portcullis_http_connections_refused_total").increment(1);
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        tracing::debug!(%peer, "connection refused past the cap, closed without an answer");
        return;
    };
    tracing::debug!(%peer, cap, "connection refused past the cap");
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, write_refusal(stream)).await;
        drop(permit);
    });
}

/// The refusal past the connection cap. Plain text: no request has been read, so which
/// surface (SCIM, API, pages) the client wanted is not known.
fn refusal_response() -> String {
    let body = "Portcullis has too many open connections right now; retry shortly.\n";
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {REFUSAL_RETRY_AFTER_SECONDS}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn write_refusal(mut stream: TcpStream) -> std::io::Result<()> {
    stream.write_all(refusal_response().as_bytes()).await?;
    stream.shutdown().await?;
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while drained < 64 * 1024 {
        let n = stream.read(&mut sink).await?;
        if n == 0 {
            break;
        }
        drained += n;
    }
    Ok(())
}

/// Where a connection is, for its watchdog.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head, since the connection opened or the head's first byte:
    /// the header read timeout runs.
    ReadingHead(Instant),
    /// A handler has the request; its body, if read, has its own timeouts.
    Handling,
    /// The response is being written, since: the response write timeout runs.
    Writing(Instant),
    /// Between keep-alive requests, since the last response was written: the idle timeout runs.
    Idle(Instant),
}

/// The phase of one connection, shared by its socket, its requests and its watchdog.
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            phase: Mutex::new(Phase::ReadingHead(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> Phase {
        match self.phase.lock() {
            Ok(p) => *p,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn set(&self, update: impl FnOnce(Phase) -> Option<Phase>) {
        let mut guard = match self.phase.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(next) = update(*guard) {
            *guard = next;
            drop(guard);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: if the connection was idle, a new request head has begun.
    fn bytes_read(&self) {
        self.set(|p| match p {
            Phase::Idle(_) => Some(Phase::ReadingHead(Instant::now())),
            _ => None,
        });
    }

    /// When the current phase's time is up, if it has a limit.
    fn deadline(&self, limits: &ServeLimits) -> Option<(Instant, &'static str)> {
        match self.phase() {
            Phase::ReadingHead(t) => Some((
                t + limits.header_read_timeout,
                "the request head did not arrive in time",
            )),
            Phase::Handling => None,
            Phase::Writing(t) => Some((
                t + limits.response_write_timeout,
                "the client did not take the response in time",
            )),
            Phase::Idle(t) => Some((t + limits.idle_timeout, "idle keep-alive connection")),
        }
    }
}

/// The socket of a connection, telling [`Activity`] when bytes arrive.
struct WatchedStream {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What a request knows about its connection beyond the peer address: state that lives as
/// long as the connection (its per-connection sign-in budget).
pub struct PeerConnection {
    pub peer: SocketAddr,
    pub acs_budget: Mutex<super::throttle::TokenBucket>,
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Arc<ServeLimits>,
    mut stop: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        activity: activity.clone(),
    });
    let connection = Arc::new(PeerConnection {
        peer,
        acs_budget: Mutex::new(super::throttle::TokenBucket::full()),
    });
    let service = {
        let (activity, limits) = (activity.clone(), limits.clone());
        hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            activity.set(|_| Some(Phase::Handling));
            let (router, activity, limits, connection) = (
                router.clone(),
                activity.clone(),
                limits.clone(),
                connection.clone(),
            );
            async move {
                let timed_out = BodyTimedOut::new(&limits);
                let mut req = req.map(|incoming| {
                    if incoming.is_end_stream() {
                        Body::new(incoming)
                    } else {
                        Body::new(DeadlineBody::new(incoming, &limits, timed_out.clone()))
                    }
                });
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(connection);
                req.extensions_mut().insert(timed_out);
                let res = match router.oneshot(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                };
                activity.set(|_| Some(Phase::Writing(Instant::now())));
                Ok::<_, std::convert::Infallible>(res.map(|body| ResponseBody {
                    inner: body,
                    done: Some(WrittenGuard(activity)),
                }))
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Our watchdog keeps the header timeout: hyper's would also cut idle keep-alive
        // connections at the header timeout (see the module comment).
        .header_read_timeout(None)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        let deadline = activity.deadline(&limits);
        let watchdog = async {
            match deadline {
                Some((at, _)) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            () = watchdog => {
                // The phase may have changed while the timer ran: only a deadline still in
                // force closes the connection.
                if let Some((at, why)) = activity.deadline(&limits) {
                    if at <= Instant::now() {
                        tracing::debug!(%peer, reason = why, "connection closed by a timeout");
                        break;
                    }
                }
            }
            () = activity.changed.notified() => {}
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(permit);
}

/// The response body: when hyper has written it and drops it, the connection becomes idle.
struct ResponseBody {
    inner: Body,
    done: Option<WrittenGuard>,
}

struct WrittenGuard(Arc<Activity>);

impl Drop for WrittenGuard {
    fn drop(&mut self) {
        self.0.set(|_| Some(Phase::Idle(Instant::now())));
    }
}

impl HttpBody for ResponseBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.done.take();
        }
        polled
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Set on a request whose body timed out, so that [`answer_body_timeouts`] can answer 408
/// in the request's surface whatever the handler made of the read error.
#[derive(Clone)]
pub struct BodyTimedOut {
    flag: Arc<AtomicBool>,
    stall: Duration,
    overall: Duration,
}

impl BodyTimedOut {
    fn new(limits: &ServeLimits) -> Self {
        BodyTimedOut {
            flag: Arc::default(),
            stall: limits.body_stall_timeout,
            overall: limits.body_read_timeout,
        }
    }
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}

/// The error a request body gives when it stalls or takes too long.
#[derive(Debug)]
pub struct BodyReadTimeout(&'static str);

impl std::fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for BodyReadTimeout {}

/// A request body with a stall timeout (between chunks) and an overall deadline. tower-http's
/// timeout body has only the first, which a body trickling a byte at a time never trips.
struct DeadlineBody {
    inner: hyper::body::Incoming,
    timer: Pin<Box<Sleep>>,
    overall: Instant,
    stall: Duration,
    timed_out: BodyTimedOut,
}

impl DeadlineBody {
    fn new(inner: hyper::body::Incoming, limits: &ServeLimits, timed_out: BodyTimedOut) -> Self {
        let now = Instant::now();
        let overall = now + limits.body_read_timeout;
        DeadlineBody {
            inner,
            timer: Box::pin(sleep_until((now + limits.body_stall_timeout).min(overall))),
            overall,
            stall: limits.body_stall_timeout,
            timed_out,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = (Instant::now() + self.stall).min(self.overall);
                self.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.timed_out.flag.store(true, Ordering::Relaxed);
                    let why = if Instant::now() >= self.overall {
                        "the request body did not arrive within the body read timeout"
                    } else {
                        "the request body stalled longer than the body stall timeout"
                    };
                    Poll::Ready(Some(Err(BodyReadTimeout(why).into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: a request whose body timed out is answered 408 in its surface's format (SCIM
/// error, problem+json, or an HTML page), and its connection is closed, whatever the handler
/// answered to the read error.
pub async fn answer_body_timeouts(req: Request, next: Next) -> Response {
    let timed_out = req.extensions().get::<BodyTimedOut>().cloned();
    let rid = RequestId::of(req.extensions());
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let Some(timed_out) = timed_out.filter(BodyTimedOut::is_set) else {
        return res;
    };
    let detail = format!(
        "the request body did not arrive in time: it may pause at most {} s between chunks and must be complete within {} s of the request head",
        timed_out.stall.as_secs_f64(),
        timed_out.overall.as_secs_f64()
    );
    let mut res = if path == "/scim/v2" || path.starts_with("/scim/v2/") {
        ScimErrorResponse::status(408, detail).into_response()
    } else if path == "/api/v1" || path.starts_with("/api/v1/") {
        ApiError::new(StatusCode::REQUEST_TIMEOUT, detail).into_response()
    } else {
        error_page(
            StatusCode::REQUEST_TIMEOUT,
            "The request took too long to arrive. Try again.",
            &rid.0,
        )
    };
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}
