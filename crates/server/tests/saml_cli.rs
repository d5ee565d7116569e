//! `portcullis saml …` as an IT admin runs it: one JSON object on stdout for setup, the same
//! Client ID on every run, and metadata errors that say what is wrong and what to do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use directory::Clock as _;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use time::{Duration, OffsetDateTime};

struct Env {
    dir: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Env {
    fn new() -> Env {
        let dir = std::env::temp_dir().join(format!("portcullis-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Env { dir }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("--database-url")
            .arg(format!("sqlite://{}", self.dir.join("p.db").display()))
            .args(args)
            .env_remove("PORTCULLIS_BASE_URL")
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn metadata(cert_b64: Option<&str>) -> String {
    let key = cert_b64
        .map(|c| format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#))
        .unwrap_or_default();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://www.okta.com/exk1cli"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://acme.okta.example/sso/saml"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

fn cert(not_before: OffsetDateTime, validity: Duration) -> String {
    saml::SpKeyPair::generate("cli test idp", not_before, validity)
        .unwrap()
        .certificate_base64()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn saml_setup_prints_one_json_object_and_keeps_the_client_id() {
    let env = Env::new();
    env.ok(&["org", "create", "acme"]);
    env.ok(&["token", "create", "--org", "acme", "--domain", "acme.com"]);
    let out = env.ok(&[
        "saml",
        "setup",
        "--org",
        "acme",
        "--base-url",
        "https://id.example.com/",
    ]);
    let v: Value = serde_json::from_str(out.trim()).expect("stdout is one JSON object");
    let id = v["client_id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{id}"
    );
    let base = format!("https://id.example.com/saml/{id}");
    assert_eq!(v["entity_id"], base);
    assert_eq!(v["acs_url"], format!("{base}/acs"));
    assert_eq!(v["login_url"], format!("{base}/login"));
    assert_eq!(v["metadata_url"], format!("{base}/metadata"));
    assert_eq!(v.as_object().unwrap().len(), 5);

    // Again, with the default base URL: same Client ID.
    let again: Value =
        serde_json::from_str(env.ok(&["saml", "setup", "--org", "acme"]).trim()).unwrap();
    assert_eq!(again["client_id"], id);
    assert_eq!(
        again["acs_url"],
        format!("http://127.0.0.1:8080/saml/{id}/acs")
    );

    let shown: Value = serde_json::from_str(&env.ok(&["saml", "show", "--org", "acme"])).unwrap();
    assert_eq!(shown["client_id"], id);
    assert_eq!(shown["domains"], serde_json::json!(["acme.com"]));

    let changed: Value = serde_json::from_str(&env.ok(&[
        "saml",
        "settings",
        "--org",
        "acme",
        "--jit",
        "true",
        "--idp-initiated",
        "false",
    ]))
    .unwrap();
    assert_eq!(changed["jit"], true);
    assert_eq!(changed["idp_initiated"], false);
    assert_eq!(changed["domains"], serde_json::json!(["acme.com"]));
    assert_eq!(changed["client_id"], id);

    // A second organization may claim acme.com too: claims route nobody until proved.
    env.ok(&["org", "create", "other"]);
    let out = env.run(&["saml", "setup", "--org", "other", "--domain", "acme.com"]);
    assert!(out.status.success());
    let told = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(told.contains("_portcullis-challenge.acme.com"), "{told}");
    assert!(
        told.contains("portcullis domain approve --org other acme.com"),
        "{told}"
    );
    let listed: Value =
        serde_json::from_str(&env.ok(&["domain", "list", "--org", "acme", "--json"])).unwrap();
    assert_eq!(listed[0]["domain"], "acme.com");
    assert_eq!(listed[0]["verified"], false);
    assert_eq!(
        listed[0]["txt_record"]["name"],
        "_portcullis-challenge.acme.com"
    );

    // The operator approves it for one, then revokes it.
    env.ok(&["domain", "approve", "--org", "other", "ACME.com."]);
    let other: Value =
        serde_json::from_str(&env.ok(&["domain", "list", "--org", "other", "--json"])).unwrap();
    assert_eq!(
        (&other[0]["verified"], &other[0]["proof"]),
        (&Value::Bool(true), &Value::from("operator"))
    );
    let acme: Value =
        serde_json::from_str(&env.ok(&["domain", "list", "--org", "acme", "--json"])).unwrap();
    assert_eq!(acme[0]["verified_by_another_organization"], true);
    let text = env.ok(&["domain", "list", "--org", "other"]);
    assert!(
        text.starts_with("acme.com\tverified (operator)\t"),
        "{text}"
    );
    env.ok(&["domain", "revoke", "--org", "other", "acme.com"]);
    let other: Value =
        serde_json::from_str(&env.ok(&["domain", "list", "--org", "other", "--json"])).unwrap();
    assert_eq!(other[0]["verified"], false);
    assert!(other[0]["note"].as_str().unwrap().contains("revoked"));
    let audit = env.ok(&["audit", "--org", "other", "--json"]);
    assert!(
        audit.contains("domain.revoke") && audit.contains("domain.verify"),
        "{audit}"
    );

    // Public mail domains and unknown claims are refused with the reason.
    let out = env.run(&["domain", "approve", "--org", "acme", "gmail.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("public mail domain"));
    let out = env.run(&["domain", "revoke", "--org", "acme", "nowhere.example"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a login domain"));

    let out = env.run(&["saml", "setup", "--org", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("org create"));
}

#[test]
fn saml_metadata_errors_say_what_is_wrong_and_what_to_do() {
    let env = Env::new();
    env.ok(&["org", "create", "acme"]);
    env.ok(&["saml", "setup", "--org", "acme", "--domain", "acme.com"]);
    let now = directory::SystemClock.now();
    let sp = saml::sp_metadata_xml(&saml::SpMetadataParams {
        entity_id: "https://sp.example/saml",
        acs_url: "https://sp.example/saml/acs",
        name_id_formats: &[],
        key_pair: None,
        authn_requests_signed: false,
    });
    let cases = [
        (
            "not.xml",
            "{\"this\": \"is json\"}".to_string(),
            "not readable XML",
        ),
        ("sp.xml", sp, "service provider"),
        ("nocert.xml", metadata(None), "no signing certificate"),
        (
            "expired.xml",
            metadata(Some(&cert(now - Duration::days(400), Duration::days(30)))),
            "expired",
        ),
    ];
    for (name, text, wanted) in cases {
        let file = env.write(name, &text);
        let out = env.run(&["saml", "metadata", "--org", "acme", path_str(&file)]);
        assert!(!out.status.success(), "{name} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(wanted), "{name}: {wanted:?} not in {err}");
    }
    let out = env.run(&["saml", "metadata", "--org", "acme", "/nonexistent/file.xml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));

    let good = env.write(
        "idp.xml",
        &metadata(Some(&cert(now - Duration::hours(1), Duration::days(365)))),
    );
    env.ok(&["saml", "metadata", "--org", "acme", path_str(&good)]);
    let shown: Value = serde_json::from_str(&env.ok(&["saml", "show", "--org", "acme"])).unwrap();
    assert_eq!(shown["idp"]["entity_id"], "http://www.okta.com/exk1cli");
}
