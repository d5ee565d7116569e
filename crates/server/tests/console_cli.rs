//! `portcullis admin invite` as an operator runs it: the one-time link alone on stdout, the
//! guidance on stderr, and refusals that say what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

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
}

#[test]
fn admin_invite_prints_the_link_alone() {
    let env = Env::new();
    assert!(env.run(&["org", "create", "acme"]).status.success());

    let out = env.run(&[
        "admin",
        "invite",
        "--org",
        "acme",
        "--email",
        "IT@Acme.com",
        "--base-url",
        "https://id.example.com/",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let secret = lines[0]
        .strip_prefix("https://id.example.com/console/invite/")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(secret.len() >= 43, "{secret}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("it@acme.com"), "{stderr}");

    // Each invitation is a new link.
    let again = env.run(&["admin", "invite", "--org", "acme", "--email", "it@acme.com"]);
    assert!(again.status.success());
    let second = String::from_utf8(again.stdout).unwrap();
    assert!(
        second.starts_with("http://127.0.0.1:8080/console/invite/"),
        "{second}"
    );
    assert_ne!(second.trim(), lines[0]);

    // Refusals: a bad email, an unknown organization; nothing on stdout.
    for args in [
        [
            "admin",
            "invite",
            "--org",
            "acme",
            "--email",
            "not-an-email",
        ],
        ["admin", "invite", "--org", "nope", "--email", "it@acme.com"],
    ] {
        let out = env.run(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    let bad = env.run(&[
        "admin",
        "invite",
        "--org",
        "acme",
        "--email",
        "not-an-email",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("email"));

    // The existing operator-key command is unchanged.
    let key = env.run(&["admin-key", "create"]);
    assert!(key.status.success());
}
