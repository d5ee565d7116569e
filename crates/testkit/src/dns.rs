//! A small authoritative DNS server for tests, on a loopback port (UDP and TCP, the same
//! port): it answers TXT queries from records the test sets, NXDOMAIN for any other name,
//! SERVFAIL for names the test makes fail, and counts the queries it saw. The wire format is `hickory-proto`'s.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, Record, RecordType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Per name: the TXT texts it answers, or `None` for a server failure (SERVFAIL).
type Records = Arc<Mutex<HashMap<String, Option<Vec<String>>>>>;

pub struct TestDns {
    addr: SocketAddr,
    records: Records,
    queries: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for TestDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl TestDns {
    /// Starts the server on 127.0.0.1, a free port for both UDP and TCP.
    pub async fn start() -> TestDns {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind UDP");
            let port = udp.local_addr().expect("UDP address").port();
            // The same port over TCP, for the resolver's fallback; another one if it is taken.
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().expect("UDP address");
        let records: Records = Arc::default();
        let queries = Arc::new(AtomicUsize::new(0));
        let udp_task = {
            let records = records.clone();
            let queries = queries.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                    queries.fetch_add(1, Ordering::SeqCst);
                    if let Some(reply) = answer(&buf[..n], &records) {
                        let _ = udp.send_to(&reply, peer).await;
                    }
                }
            })
        };
        let tcp_task = {
            let records = records.clone();
            let queries = queries.clone();
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = tcp.accept().await {
                    let records = records.clone();
                    let queries = queries.clone();
                    tokio::spawn(async move {
                        let mut len = [0u8; 2];
                        while stream.read_exact(&mut len).await.is_ok() {
                            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                            if stream.read_exact(&mut msg).await.is_err() {
                                return;
                            }
                            queries.fetch_add(1, Ordering::SeqCst);
                            let Some(reply) = answer(&msg, &records) else {
                                return;
                            };
                            let Ok(n) = u16::try_from(reply.len()) else {
                                return;
                            };
                            if stream.write_all(&n.to_be_bytes()).await.is_err()
                                || stream.write_all(&reply).await.is_err()
                            {
                                return;
                            }
                        }
                    });
                }
            })
        };
        TestDns {
            addr,
            records,
            queries,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// Where the resolver should send its queries.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `name` answer these TXT texts (replacing what it had).
    pub fn set_txt(&self, name: &str, texts: &[&str]) {
        self.records.lock().expect("records").insert(
            key(name),
            Some(texts.iter().map(|t| t.to_string()).collect()),
        );
    }

    /// Makes queries for `name` fail (SERVFAIL), as a broken authoritative server would.
    pub fn fail(&self, name: &str) {
        self.records
            .lock()
            .expect("records")
            .insert(key(name), None);
    }

    /// Makes `name` unknown again (NXDOMAIN).
    pub fn remove(&self, name: &str) {
        self.records.lock().expect("records").remove(&key(name));
    }

    /// Queries received so far (over both transports).
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn answer(request: &[u8], records: &Records) -> Option<Vec<u8>> {
    let request = Message::from_vec(request).ok()?;
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired());
    let records = records.lock().ok()?;
    let mut code = ResponseCode::NoError;
    for query in request.queries() {
        reply.add_query(query.clone());
        let name = key(&query.name().to_ascii());
        match records.get(&name) {
            None => code = ResponseCode::NXDomain,
            Some(None) => code = ResponseCode::ServFail,
            Some(Some(texts)) if query.query_type() == RecordType::TXT => {
                for text in texts {
                    reply.add_answer(Record::from_rdata(
                        query.name().clone(),
                        0,
                        RData::TXT(TXT::new(vec![text.clone()])),
                    ));
                }
            }
            // The name exists, without records of that type: NOERROR, no answer.
            Some(_) => {}
        }
    }
    reply.set_response_code(code);
    reply.to_vec().ok()
}
