//! Class: slow clients hold the server. Over raw TCP sockets: the header read timeout, the
//! body read timeouts, the idle keep-alive timeout, and the connection cap.

use portcullis::http::serving::ServeLimits;
use std::time::{Duration, Instant};
use testkit::server::{Backend, TestOptions, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Timeouts short enough for tests, each distinct so that a test sees which one fired.
fn short_limits() -> ServeLimits {
    ServeLimits {
        header_read_timeout: Duration::from_millis(800),
        body_stall_timeout: Duration::from_millis(800),
        body_read_timeout: Duration::from_millis(2500),
        idle_timeout: Duration::from_millis(2500),
        response_write_timeout: Duration::from_secs(5),
        max_connections: 1000,
    }
}

async fn server_with(limits: ServeLimits) -> TestServer {
    TestServer::start_with(
        Backend::Sqlite,
        TestOptions {
            serve: limits,
            ..TestOptions::default()
        },
    )
    .await
}

fn addr(server: &TestServer) -> String {
    server.base_url.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `limit` passes); returns what was read
/// and when the close came, measured from `since`.
async fn read_until_closed(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
) -> (String, Option<Duration>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = since + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&got).into_owned(),
                    Some(since.elapsed()),
                )
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

/// Reads one response whose head says `Content-Length` (the server keeps the connection).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("no response")
            .unwrap();
        assert!(n > 0, "closed before a response");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                return text;
            }
        }
    }
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: portcullis\r\n\r\n";

#[tokio::test]
async fn half_sent_headers_are_cut_off_at_the_header_timeout() {
    let server = server_with(short_limits()).await;
    // Half a request head, then nothing.
    let mut half = TcpStream::connect(addr(&server)).await.unwrap();
    let started = Instant::now();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: portc")
        .await
        .unwrap();
    // A connection that never sends a byte counts from its opening.
    let mut silent = TcpStream::connect(addr(&server)).await.unwrap();
    let (_, closed) = read_until_closed(&mut half, started, Duration::from_secs(5)).await;
    let closed = closed.expect("a half-sent request head held its connection for 5 s");
    assert!(
        closed >= Duration::from_millis(700) && closed < Duration::from_millis(2400),
        "closed after {closed:?}, the header timeout is 800 ms"
    );
    let (_, closed) = read_until_closed(&mut silent, started, Duration::from_secs(5)).await;
    assert!(closed.expect("a silent connection was held") < Duration::from_millis(2400));
}

#[tokio::test]
async fn keep_alive_connections_wait_the_idle_timeout_and_a_later_half_head_the_header_timeout() {
    let server = server_with(short_limits()).await;
    // hyper's own header timeout would close this connection 800 ms after its response; ours
    // leaves an idle connection the idle timeout (2.5 s).
    let mut idle = TcpStream::connect(addr(&server)).await.unwrap();
    idle.write_all(HEALTH).await.unwrap();
    let first = read_response(&mut idle).await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let idle_since = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    idle.write_all(HEALTH).await.unwrap();
    let second = read_response(&mut idle).await;
    assert!(
        second.starts_with("HTTP/1.1 200"),
        "an idle keep-alive connection was closed at the header timeout: {second}"
    );
    let idle_since_second = Instant::now();
    let (_, closed) = read_until_closed(&mut idle, idle_since_second, Duration::from_secs(6)).await;
    let closed = closed.expect("an idle keep-alive connection was never closed");
    assert!(
        closed >= Duration::from_millis(2300) && closed < Duration::from_millis(4500),
        "idle connection closed after {closed:?}, the idle timeout is 2.5 s"
    );
    assert!(idle_since.elapsed() > Duration::from_millis(3500));

    // After a response, the next request's head has the header timeout, not the idle one.
    let mut later = TcpStream::connect(addr(&server)).await.unwrap();
    later.write_all(HEALTH).await.unwrap();
    read_response(&mut later).await;
    later.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let since = Instant::now();
    let (_, closed) = read_until_closed(&mut later, since, Duration::from_secs(5)).await;
    let closed = closed.expect("a half head on a keep-alive connection was held");
    assert!(
        closed < Duration::from_millis(2000),
        "closed after {closed:?}: the header timeout (800 ms) should apply"
    );
}

#[tokio::test]
async fn a_stalled_or_trickling_body_is_answered_408_in_the_surfaces_format() {
    let server = server_with(short_limits()).await;
    let (_, scim) = server.org_with_token(&["acme.com"]).await;

    // SCIM: half a body, then a stall.
    let mut stalled = TcpStream::connect(addr(&server)).await.unwrap();
    let head = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: portcullis\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: 200\r\n\r\n{{\"schemas\":",
        scim.token
    );
    let since = Instant::now();
    stalled.write_all(head.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut stalled, since, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the stalled connection was kept open");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/scim+json"), "{answer}");
    assert!(
        answer.contains("urn:ietf:params:scim:api:messages:2.0:Error"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        closed.unwrap() < Duration::from_millis(2400),
        "answered after {closed:?}; the stall timeout is 800 ms"
    );

    // The API: problem+json; the body trickles, the overall timeout ends it.
    let (_, operator) = server
        .state
        .admin
        .create_admin_key(Some("t"))
        .await
        .unwrap();
    let mut api = TcpStream::connect(addr(&server)).await.unwrap();
    api.write_all(
        format!("POST /api/v1/orgs HTTP/1.1\r\nHost: portcullis\r\nAuthorization: Bearer {operator}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let since = Instant::now();
    let (mut reader, mut writer) = api.into_split();
    let trickler = tokio::spawn(async move {
        for _ in 0..30 {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(6), reader.read_to_end(&mut got)).await;
    let answer = String::from_utf8_lossy(&got).into_owned();
    let took = since.elapsed();
    trickler.abort();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        took >= Duration::from_millis(2300) && took < Duration::from_millis(5000),
        "answered after {took:?}; the body read timeout is 2.5 s"
    );
}

#[tokio::test]
async fn a_stalled_acs_body_gets_an_html_408() {
    let server = server_with(short_limits()).await;
    let org = server
        .state
        .admin
        .create_org(
            &format!("o-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            None,
        )
        .await
        .unwrap();
    let conn = server
        .state
        .sso
        .setup(
            &org,
            &["stall.example".to_string()],
            &directory::model::Actor::Cli,
        )
        .await
        .unwrap();
    let mut stalled = TcpStream::connect(addr(&server)).await.unwrap();
    stalled
        .write_all(format!("POST /saml/{}/acs HTTP/1.1\r\nHost: portcullis\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\nSAMLResponse=PD94", conn.client_id).as_bytes())
        .await
        .unwrap();
    let (answer, closed) =
        read_until_closed(&mut stalled, Instant::now(), Duration::from_secs(5)).await;
    assert!(closed.is_some());
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("text/html"), "{answer}");
    assert!(answer.contains("took too long"), "{answer}");
}

#[tokio::test]
async fn past_the_connection_cap_a_503_then_service_once_connections_are_released() {
    let cap = 8;
    let server = server_with(ServeLimits {
        // Long enough that the held connections are not cut while the test looks.
        header_read_timeout: Duration::from_secs(30),
        max_connections: cap,
        ..short_limits()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..cap {
        let mut s = TcpStream::connect(addr(&server)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    // Let the server accept them all.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let mut over = TcpStream::connect(addr(&server)).await.unwrap();
        let _ = over.write_all(HEALTH).await;
        let (answer, closed) =
            read_until_closed(&mut over, Instant::now(), Duration::from_secs(3)).await;
        assert!(closed.is_some(), "a connection past the cap was held");
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("Retry-After: 1"), "{answer}");
    }
    drop(held);
    // Released connections free their slots: health checks are answered again.
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let res = http
            .get(format!("{}/healthz", server.base_url))
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "still refused after the held connections closed: {}",
            res.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn after_hundreds_of_half_open_connections_are_cut_off_requests_succeed() {
    let server = server_with(ServeLimits {
        max_connections: 300,
        ..short_limits()
    })
    .await;
    let mut half_open = Vec::new();
    for i in 0..300 {
        let mut s = TcpStream::connect(addr(&server)).await.unwrap();
        let _ = s
            .write_all(format!("POST /scim/v2/Users HTTP/1.1\r\nX-{i}: ").as_bytes())
            .await;
        half_open.push(s);
    }
    // Every one of them is cut off by the header timeout, without the client closing.
    let since = Instant::now();
    for s in &mut half_open {
        let (_, closed) = read_until_closed(s, since, Duration::from_secs(5)).await;
        assert!(
            closed.is_some(),
            "a half-open connection outlived the header timeout"
        );
    }
    let (_, scim) = server.org_with_token(&["acme.com"]).await;
    for i in 0..20 {
        scim.create_user(&format!("after{i}@acme.com")).await;
    }
    let r = scim.get("/Users?count=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 20);
}
