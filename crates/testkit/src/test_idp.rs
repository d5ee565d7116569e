//! An independent SAML identity provider for sign-in tests.
//!
//! [`TestIdp`] drives `scripts/test-idp/test_idp.py`, which signs Okta-shaped
//! responses with Python's signxml (not our code) and checks signatures with
//! Debian's `xmlsec1` (the oracle). The Python interpreter is the one of the
//! venv made by `scripts/test-idp/setup.sh`: `PORTCULLIS_TEST_IDP_PYTHON` when
//! set, else `<repo>/.test-idp-venv/bin/python`. Without either a test panics
//! and says to run the setup script: it never skips silently.
//!
//! For a real browser, [`TestIdp::serve_tls`] runs the same IdP as a web server: its `/sso`
//! page posts a signed response to our ACS when its Continue button (`#continue`) is clicked.
//!
//! ```text
//! let idp = TestIdp::new("http://www.okta.com/exk1test");
//! let metadata = idp.metadata_xml("https://idp.example.com/sso/saml");
//! let saml_response = idp.response(&ResponseParams::new(acs_url, sp_entity_id, "alice@example.com"));
//! ```

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Environment variable naming the venv python that runs the test IdP.
pub const PYTHON_ENV: &str = "PORTCULLIS_TEST_IDP_PYTHON";

/// Okta's NameID formats.
pub const NAME_ID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
pub const NAME_ID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// An RSA-2048 key and its self-signed certificate, both PEM.
#[derive(Clone, Debug)]
pub struct IdpKey {
    pub key_pem: String,
    pub cert_pem: String,
}

/// A change made after signing, so that a signature no longer matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Replace the NameID text (inside the ciphertext when encrypted).
    NameId(String),
    /// Replace the Audience text (inside the ciphertext when encrypted).
    Audience(String),
    /// Flip one bit of the first SignatureValue (the Response's when it is signed).
    SignatureValue,
}

/// What goes into one Response. [`ResponseParams::new`] (or `Default`) gives an
/// Okta-like response: both signatures, no InResponseTo, issued now.
#[derive(Clone, Debug)]
pub struct ResponseParams {
    /// Destination: our ACS URL.
    pub destination: String,
    /// Audience: our SP entity ID.
    pub audience: String,
    /// SubjectConfirmationData Recipient; `None` = `destination`.
    pub recipient: Option<String>,
    /// Issuer; `None` = the IdP's entity ID.
    pub issuer: Option<String>,
    /// The AuthnRequest ID for SP-initiated sign-in; `None` for IdP-initiated.
    pub in_response_to: Option<String>,
    pub name_id: String,
    /// `None` = unspecified ([`NAME_ID_UNSPECIFIED`]).
    pub name_id_format: Option<String>,
    /// Attribute name → values, each typed `xs:string`.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// IssueInstant (and AuthnInstant); `None` = now. Kept to milliseconds.
    pub issue_instant: Option<OffsetDateTime>,
    /// Conditions NotBefore / NotOnOrAfter = issue instant ∓ this (Okta: 5 minutes).
    /// SubjectConfirmationData NotOnOrAfter is always issue instant + 5 minutes.
    pub validity: Duration,
    /// `None` = the assertion ID.
    pub session_index: Option<String>,
    /// `None` = a fresh random ID.
    pub response_id: Option<String>,
    /// `None` = a fresh random ID.
    pub assertion_id: Option<String>,
    pub sign_response: bool,
    pub sign_assertion: bool,
    /// The SP certificate PEM: encrypt the assertion with it (aes256-cbc + rsa-oaep-mgf1p).
    pub encrypt_to: Option<String>,
    pub tamper: Option<Tamper>,
}

impl Default for ResponseParams {
    fn default() -> Self {
        ResponseParams {
            destination: String::new(),
            audience: String::new(),
            recipient: None,
            issuer: None,
            in_response_to: None,
            name_id: String::new(),
            name_id_format: None,
            attributes: BTreeMap::new(),
            issue_instant: None,
            validity: Duration::minutes(5),
            session_index: None,
            response_id: None,
            assertion_id: None,
            sign_response: true,
            sign_assertion: true,
            encrypt_to: None,
            tamper: None,
        }
    }
}

impl ResponseParams {
    /// An IdP-initiated response for `name_id`, with its email attribute set to it.
    pub fn new(acs_url: &str, sp_entity_id: &str, name_id: &str) -> Self {
        ResponseParams {
            destination: acs_url.to_owned(),
            audience: sp_entity_id.to_owned(),
            name_id: name_id.to_owned(),
            attributes: BTreeMap::from([("email".to_owned(), vec![name_id.to_owned()])]),
            ..Default::default()
        }
    }
}

/// A response made by the IdP.
#[derive(Clone, Debug)]
pub struct IdpResponse {
    /// The document as the IdP wrote it.
    pub xml: String,
    /// base64 of `xml`: the `SAMLResponse` form value.
    pub saml_response: String,
    pub response_id: String,
    pub assertion_id: String,
    /// The IssueInstant written (pass it as `now` to validation).
    pub issue_instant: OffsetDateTime,
}

/// An IdP with an entity ID and its signing keys (several after [`TestIdp::rotate`]).
#[derive(Clone, Debug)]
pub struct TestIdp {
    pub entity_id: String,
    /// Every key generated, oldest first: metadata lists all their certificates,
    /// responses are signed with the last one.
    pub keys: Vec<IdpKey>,
    python: PathBuf,
    script: PathBuf,
}

impl TestIdp {
    /// A new IdP with one fresh key (valid from an hour ago for a year).
    pub fn new(entity_id: &str) -> TestIdp {
        let (python, script) = locate();
        let mut idp = TestIdp {
            entity_id: entity_id.to_owned(),
            keys: Vec::new(),
            python,
            script,
        };
        let key = idp.keygen(None, None);
        idp.keys.push(key);
        idp
    }

    /// A key and certificate valid from `not_before` to `not_after` (each `None`
    /// = an hour ago / a year from now); e.g. an expired one for upload tests.
    pub fn keygen(
        &self,
        not_before: Option<OffsetDateTime>,
        not_after: Option<OffsetDateTime>,
    ) -> IdpKey {
        let out = self.call(
            "keygen",
            json!({
                "common_name": self.entity_id,
                "not_before": not_before.map(iso),
                "not_after": not_after.map(iso),
            }),
        );
        IdpKey {
            key_pem: string(&out, "key_pem"),
            cert_pem: string(&out, "cert_pem"),
        }
    }

    /// Key rollover: adds a new key; metadata then lists both certificates and
    /// responses are signed with the new one.
    pub fn rotate(&mut self) {
        let key = self.keygen(None, None);
        self.keys.push(key);
    }

    /// The key responses are signed with.
    pub fn signing_key(&self) -> &IdpKey {
        match self.keys.last() {
            Some(key) => key,
            None => panic!("TestIdp has no key"),
        }
    }

    /// Okta-shaped IdP metadata listing every certificate, with `sso_url` for
    /// both the HTTP-Redirect and HTTP-POST bindings, WantAuthnRequestsSigned="false".
    pub fn metadata_xml(&self, sso_url: &str) -> String {
        self.metadata_xml_with(sso_url, false)
    }

    /// [`TestIdp::metadata_xml`] with WantAuthnRequestsSigned chosen.
    pub fn metadata_xml_with(&self, sso_url: &str, want_authn_requests_signed: bool) -> String {
        let certs: Vec<&str> = self.keys.iter().map(|k| k.cert_pem.as_str()).collect();
        let out = self.call(
            "metadata",
            json!({
                "entity_id": self.entity_id,
                "sso_url": sso_url,
                "cert_pems": certs,
                "want_authn_requests_signed": want_authn_requests_signed,
            }),
        );
        string(&out, "xml")
    }

    /// A signed response, base64: the `SAMLResponse` form value.
    pub fn response(&self, p: &ResponseParams) -> String {
        self.response_full(p).saml_response
    }

    /// A signed response with its XML, IDs and issue instant.
    pub fn response_full(&self, p: &ResponseParams) -> IdpResponse {
        self.response_signed_by(p, self.signing_key())
    }

    /// A response signed with `key` (e.g. one the metadata does not list).
    pub fn response_signed_by(&self, p: &ResponseParams, key: &IdpKey) -> IdpResponse {
        let (tamper, tamper_value) = match &p.tamper {
            None => (None, None),
            Some(Tamper::NameId(v)) => (Some("name_id"), Some(v.as_str())),
            Some(Tamper::Audience(v)) => (Some("audience"), Some(v.as_str())),
            Some(Tamper::SignatureValue) => (Some("signature_value"), None),
        };
        let out = self.call(
            "response",
            json!({
                "issuer": p.issuer.as_deref().unwrap_or(&self.entity_id),
                "destination": p.destination,
                "audience": p.audience,
                "recipient": p.recipient,
                "in_response_to": p.in_response_to,
                "name_id": p.name_id,
                "name_id_format": p.name_id_format,
                "attributes": p.attributes,
                "issue_instant": p.issue_instant.map(iso),
                "validity_minutes": p.validity.whole_minutes(),
                "session_index": p.session_index,
                "response_id": p.response_id,
                "assertion_id": p.assertion_id,
                "sign_response": p.sign_response,
                "sign_assertion": p.sign_assertion,
                "encrypt_cert_pem": p.encrypt_to,
                "tamper": tamper,
                "tamper_value": tamper_value,
                "key_pem": key.key_pem,
                "cert_pem": key.cert_pem,
            }),
        );
        let instant = string(&out, "issue_instant");
        IdpResponse {
            xml: string(&out, "xml"),
            saml_response: string(&out, "saml_response"),
            response_id: string(&out, "response_id"),
            assertion_id: string(&out, "assertion_id"),
            issue_instant: OffsetDateTime::parse(&instant, &Rfc3339)
                .unwrap_or_else(|e| panic!("test IdP issue_instant {instant:?}: {e}")),
        }
    }

    /// The oracle: `xmlsec1 --verify` of each `ds:Signature` in document order,
    /// with the current signing certificate as the only key.
    pub fn oracle_verify(&self, xml: &str) -> Vec<bool> {
        self.oracle_verify_with(xml, &self.signing_key().cert_pem, None)
    }

    /// The oracle for an encrypted assertion: the visible signatures, then the
    /// assertion's, after `xmlsec1 --decrypt` with the SP private key.
    pub fn oracle_verify_decrypting(&self, xml: &str, sp_key_pem: &str) -> Vec<bool> {
        self.oracle_verify_with(xml, &self.signing_key().cert_pem, Some(sp_key_pem))
    }

    /// The oracle with any certificate.
    pub fn oracle_verify_with(
        &self,
        xml: &str,
        cert_pem: &str,
        sp_key_pem: Option<&str>,
    ) -> Vec<bool> {
        let out = self.call(
            "verify",
            json!({ "xml": xml, "cert_pem": cert_pem, "sp_key_pem": sp_key_pem }),
        );
        let verified: Vec<bool> = out["verified"]
            .as_array()
            .unwrap_or_else(|| panic!("test IdP verify answered {out}"))
            .iter()
            .map(|v| v.as_bool() == Some(true))
            .collect();
        assert_eq!(
            out["signatures"].as_u64(),
            Some(verified.len() as u64),
            "test IdP verify answered {out}"
        );
        verified
    }

    /// Serves this IdP to a browser over plain HTTP until the [`IdpServer`] is dropped:
    /// `GET /sso` answers an AuthnRequest (HTTP-Redirect binding) with a page whose Continue
    /// button (`#continue`) POSTs a response signed for `name_id` to the request's ACS URL.
    /// Chromium refuses to follow a sign-in form to a plain-HTTP IdP: browsers want
    /// [`TestIdp::serve_tls`].
    pub fn serve(&self, name_id: &str) -> IdpServer {
        self.spawn_server(name_id, None)
    }

    /// [`TestIdp::serve`] over HTTPS with a fresh self-signed certificate (the browser is told
    /// to accept it), as Okta's sign-in pages are HTTPS.
    pub fn serve_tls(&self, name_id: &str) -> IdpServer {
        let tls = self.keygen(None, None);
        self.spawn_server(name_id, Some(&tls))
    }

    fn spawn_server(&self, name_id: &str, tls: Option<&IdpKey>) -> IdpServer {
        let key = self.signing_key();
        let certs: Vec<&str> = self.keys.iter().map(|k| k.cert_pem.as_str()).collect();
        let request = json!({
            "entity_id": self.entity_id,
            "key_pem": key.key_pem,
            "cert_pem": key.cert_pem,
            "cert_pems": certs,
            "name_id": name_id,
            "tls_key_pem": tls.map(|t| t.key_pem.as_str()),
            "tls_cert_pem": tls.map(|t| t.cert_pem.as_str()),
        });
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}{SETUP_HINT}", self.python.display()));
        // The guard kills the child if anything below fails.
        let mut server = IdpServer {
            child: None,
            sso_url: String::new(),
            metadata_url: String::new(),
            control_url: String::new(),
            metadata_xml: String::new(),
        };
        let mut stdin = child.stdin.take().expect("child stdin");
        let stdout = child.stdout.take().expect("child stdout");
        server.child = Some(child);
        stdin
            .write_all(request.to_string().as_bytes())
            .expect("write the test IdP request");
        drop(stdin);
        // The first line says where it listens; the pipe stays open until the child ends.
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader
            .read_line(&mut line)
            .expect("read the test IdP's address");
        let out: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!("test IdP `serve` did not say where it listens ({e}): {line:?}{SETUP_HINT}")
        });
        server.sso_url = string(&out, "sso_url");
        server.metadata_url = string(&out, "metadata_url");
        server.control_url = string(&out, "control_url");
        server.metadata_xml = self.metadata_xml(&server.sso_url);
        std::thread::spawn(move || {
            // Keep reading so the child never blocks on a full pipe.
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        server
    }

    fn call(&self, command: &str, request: Value) -> Value {
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}{SETUP_HINT}", self.python.display()));
        let mut stdin = child.stdin.take().expect("child stdin");
        stdin
            .write_all(request.to_string().as_bytes())
            .expect("write the test IdP request");
        drop(stdin);
        let out = child.wait_with_output().expect("wait for the test IdP");
        if !out.status.success() {
            panic!(
                "test IdP `{command}` failed ({}): {}{SETUP_HINT}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "test IdP `{command}` printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

/// A running test IdP a browser signs in at (see [`TestIdp::serve`]). Dropping it stops it.
#[derive(Debug)]
pub struct IdpServer {
    child: Option<Child>,
    /// Where browsers are sent: `GET` with `SAMLRequest` and `RelayState`.
    pub sso_url: String,
    /// The IdP's metadata, served with `sso_url` as its single sign-on service.
    pub metadata_url: String,
    /// Plain HTTP on 127.0.0.1 even when the IdP is HTTPS: `POST {control_url}/user`.
    pub control_url: String,
    /// What `metadata_url` serves: the metadata to upload.
    pub metadata_xml: String,
}

impl IdpServer {
    /// From now on, sign-ins are for `name_id` (and its email attribute).
    pub async fn set_user(&self, name_id: &str) {
        let res = reqwest::Client::new()
            .post(format!("{}/user", self.control_url))
            .json(&json!({ "name_id": name_id }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the test IdP's control endpoint: {e}"));
        assert_eq!(
            res.status().as_u16(),
            200,
            "the test IdP refused the user {name_id:?}"
        );
    }
}

impl Drop for IdpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const SETUP_HINT: &str = "\n(the SAML test IdP needs Python with signxml and Debian's xmlsec1: \
run scripts/test-idp/setup.sh, and set PORTCULLIS_TEST_IDP_PYTHON to the python it prints \
if you gave it TEST_IDP_VENV)";

/// A fresh checkout has no venv yet: make it, so `cargo test` needs no step before it.
/// The script takes a lock, so test binaries running at once set it up once.
fn set_up(root: &Path) {
    static ONCE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_thread = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if root.join(".test-idp-venv/.ready").is_file() {
        return;
    }
    let status = Command::new(root.join("scripts/test-idp/setup.sh"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run scripts/test-idp/setup.sh: {e}{SETUP_HINT}"));
    assert!(
        status.success(),
        "scripts/test-idp/setup.sh failed ({status}){SETUP_HINT}"
    );
}

/// The venv python and the script, or a panic that says how to get them.
fn locate() -> (PathBuf, PathBuf) {
    let root = crate::repo_root();
    let script = root.join("scripts/test-idp/test_idp.py");
    assert!(
        script.is_file(),
        "the test IdP script is missing at {}",
        script.display()
    );
    let python = match std::env::var_os(PYTHON_ENV) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "{PYTHON_ENV}={} does not exist{SETUP_HINT}",
                p.display()
            );
            p
        }
        _ => {
            let venv = root.join(".test-idp-venv");
            if !venv.join(".ready").is_file() {
                set_up(&root);
            }
            let p = venv.join("bin/python");
            assert!(
                p.is_file(),
                "no Python for the SAML test IdP: {PYTHON_ENV} is not set and {} does not exist{SETUP_HINT}",
                p.display()
            );
            p
        }
    };
    (python, script)
}

fn iso(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|e| panic!("cannot format {t:?}: {e}"))
}

fn string(v: &Value, field: &str) -> String {
    match v[field].as_str() {
        Some(s) => s.to_owned(),
        None => panic!("test IdP answer has no string {field:?}: {v}"),
    }
}
