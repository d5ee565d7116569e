//! Shared fixtures and invariants for the Portcullis SCIM fuzz targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use scim::filter::{matches, parse_filter, Filter};
use scim::patch::{apply, PatchOp};
use scim::schema::{case_exact, ResourceKind};
use serde_json::{json, Value};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, OnceLock};

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The stack of the server's runtime threads (`portcullis::WORKER_STACK_SIZE`, tokio's
/// default): every target runs its body on a thread this size, so an input that recurses
/// deeper than production's stack allows crashes the fuzzer as it would crash the server.
/// libFuzzer's own thread has the main thread's stack (8 MiB and more), which hid exactly
/// that: 5,000 nested XML elements parsed there and overflowed a server worker.
pub const WORKER_STACK_SIZE: usize = 2 * 1024 * 1024;

struct Worker {
    jobs: Sender<(Vec<u8>, fn(&[u8]))>,
    done: Receiver<()>,
}

/// Runs `body(data)` on the one worker thread of [`WORKER_STACK_SIZE`], started on first use
/// and kept (a thread per input would cost more than the fast targets' bodies). A panic or a
/// stack overflow there aborts the process, which libFuzzer reports as the crash.
pub fn on_worker_stack(data: &[u8], body: fn(&[u8])) {
    static WORKER: OnceLock<Mutex<Worker>> = OnceLock::new();
    let worker = WORKER.get_or_init(|| {
        let (jobs, inbox) = channel::<(Vec<u8>, fn(&[u8]))>();
        let (finished, done) = channel();
        std::thread::Builder::new()
            .name("fuzz-worker".into())
            .stack_size(WORKER_STACK_SIZE)
            .spawn(move || {
                for (input, body) in inbox {
                    body(&input);
                    if finished.send(()).is_err() {
                        return;
                    }
                }
            })
            .expect("start the fuzz worker thread");
        Mutex::new(Worker { jobs, done })
    });
    let worker = worker.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    worker
        .jobs
        .send((data.to_vec(), body))
        .expect("the fuzz worker thread is gone");
    // A panic on the worker aborts before this could fail (libFuzzer's panic hook).
    worker.done.recv().expect("the fuzz worker thread is gone");
}

/// The deepest element nesting of a document `saml::xml::parse` accepted: never more than
/// `saml::xml::MAX_DEPTH`, or the scan that runs before the parser counted too little.
pub fn check_xml_depth(text: &str) {
    if let Ok(doc) = saml::xml::parse(text) {
        let depth = doc
            .descendants()
            .filter(|n| n.is_element())
            .map(|n| n.ancestors().filter(|a| a.is_element()).count())
            .max()
            .unwrap_or(0);
        assert!(
            depth <= saml::xml::MAX_DEPTH,
            "parsed {depth} levels deep past the scan's limit"
        );
    }
}

/// A user as an IdP would provision it, with the enterprise extension, several emails and
/// phone numbers, plus the `id`/`meta` a served resource carries (for filter evaluation).
pub fn user_resource() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}
        ],
        "addresses": [{
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "primary": true
        }],
        "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"}],
        "roles": [{"value": "guide", "primary": true}],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff590\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        }
    })
}

/// The stored form of a user PATCH applies to: normalized, without `id`/`meta`.
pub fn user_doc() -> Value {
    let mut body = user_resource();
    let map = body.as_object_mut().unwrap();
    map.remove("id");
    map.remove("meta");
    scim::resource::normalize(ResourceKind::User, &body).unwrap()
}

/// The stored form of a group (members live elsewhere and are never in the document).
pub fn group_doc() -> Value {
    let body = json!({
        "schemas": [GROUP],
        "displayName": "Tour Guides",
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    });
    let mut doc = scim::resource::normalize(ResourceKind::Group, &body).unwrap();
    doc.as_object_mut().unwrap().remove("members");
    doc
}

/// Parse → print → parse gives the same filter; evaluation never panics.
pub fn check_filter(input: &str) {
    let Ok(filter) = parse_filter(input) else {
        return;
    };
    check_parsed_filter(&filter);
}

/// The round-trip and evaluation invariants for a filter that parsed (or was built).
pub fn check_parsed_filter(filter: &Filter) {
    let printed = filter.to_string();
    // A filter built as a tree (the structured target) can print longer than any client may
    // send: the parser must then refuse it for its length, and there is nothing to round-trip.
    if printed.len() > scim::filter::MAX_FILTER_LEN {
        match parse_filter(&printed) {
            Err(e) if e.detail.contains("bytes long") => return,
            other => panic!("a {}-byte filter was not refused for its length: {other:?}", printed.len()),
        }
    }
    let reparsed = match parse_filter(&printed) {
        Ok(f) => f,
        Err(e) => panic!("printed filter does not parse again\nfilter: {filter:?}\nprinted: {printed}\nerror: {e}"),
    };
    assert_eq!(
        &reparsed, filter,
        "round trip changed the filter; printed: {printed}"
    );
    // Printing is stable too.
    assert_eq!(reparsed.to_string(), printed);
    static USER_RES: OnceLock<Value> = OnceLock::new();
    static GROUP_RES: OnceLock<Value> = OnceLock::new();
    let user = USER_RES.get_or_init(user_resource);
    let _ = matches(filter, user, &|p| case_exact(ResourceKind::User, p));
    let group = GROUP_RES.get_or_init(|| {
        json!({"schemas": [GROUP], "id": "g1", "displayName": "Tour Guides",
            "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs"}]})
    });
    let _ = matches(filter, group, &|p| case_exact(ResourceKind::Group, p));
}

/// Applies `ops` to a copy of `doc`: never panics; on error the copy is unchanged; on
/// success the result is still an object and re-validating it does not panic.
pub fn check_apply(kind: ResourceKind, doc: &Value, ops: &[PatchOp]) {
    let mut work = doc.clone();
    match apply(kind, &mut work, ops) {
        Ok(_changes) => {
            assert!(work.is_object(), "PATCH result is not an object: {work}");
            let _ = scim::resource::normalize(kind, &work);
        }
        Err(e) => {
            assert_eq!(&work, doc, "a failed PATCH changed the document ({e})");
            assert!(
                (400..500).contains(&e.status),
                "PATCH of a valid document failed with status {}: {e}",
                e.status
            );
        }
    }
}

/// Both invariants on the user and the group fixture.
pub fn check_ops(ops: &[PatchOp]) {
    static USER_DOC: OnceLock<Value> = OnceLock::new();
    static GROUP_DOC: OnceLock<Value> = OnceLock::new();
    check_apply(ResourceKind::User, USER_DOC.get_or_init(user_doc), ops);
    check_apply(ResourceKind::Group, GROUP_DOC.get_or_init(group_doc), ops);
}
