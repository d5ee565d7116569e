//! Lists and searches that no index answers alone: read in small chunks, they give what a
//! read of the whole organization gives, hold only the page, and are bounded per organization.

use directory::scan::ScanLimits;
use directory::scim_service::Limits;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::server::{backends, ScimClient, TestServer};

/// Far fewer rows per chunk than the organization has, so every scan crosses many chunks.
const CHUNK: u32 = 7;
const USERS: usize = 40;

fn limits() -> Limits {
    Limits {
        scan: ScanLimits {
            chunk: CHUNK,
            wait: Duration::from_millis(200),
            max_sorted_start_index: 100,
            ..ScanLimits::default()
        },
        ..Limits::default()
    }
}

/// What each seeded user is, to compute the expected answers here.
struct Seeded {
    id: String,
    user_name: String,
    given: Option<&'static str>,
    display: Option<String>,
    title: &'static str,
    second_email: bool,
}

const GIVEN: [&str; 7] = ["Zoe", "ada", "Bob", "carl", "Ada", "eve", "Bob"];

async fn seed(c: &ScimClient) -> Vec<Seeded> {
    let mut out = Vec::new();
    for i in 0..USERS {
        let user_name = if i % 5 == 0 {
            format!("User{i:02}@Acme.com")
        } else {
            format!("user{i:02}@acme.com")
        };
        let given = (i % 9 != 4).then_some(GIVEN[i % GIVEN.len()]);
        let display = (i % 8 != 3).then(|| format!("{} Z", given.unwrap_or("Nobody")));
        let title = if i % 3 == 0 { "dev" } else { "ops" };
        let second_email = i % 4 == 1;
        let mut emails = vec![json!({"value": user_name, "primary": true, "type": "work"})];
        if second_email {
            emails.push(json!({"value": format!("u{i}@Example.org"), "type": "home"}));
        }
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "emails": emails,
            "title": title,
            "active": true,
        });
        if let Some(g) = given {
            body["name"] = json!({"givenName": g, "familyName": "Z"});
        }
        if let Some(d) = &display {
            body["displayName"] = json!(d);
        }
        let r = c.post("/Users", &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        out.push(Seeded {
            id: r.body["id"].as_str().unwrap().to_string(),
            user_name,
            given,
            display,
            title,
            second_email,
        });
    }
    out
}

fn ids(r: &Value) -> Vec<String> {
    r["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {r}"))
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn window(all: &[String], start: usize, count: usize) -> Vec<String> {
    all.iter().skip(start - 1).take(count).cloned().collect()
}

/// Asserts one list answer: exact total and the page.
async fn check(c: &ScimClient, path: &str, expected_all: &[String], start: usize, count: usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = c
        .get(&format!("{path}{sep}startIndex={start}&count={count}"))
        .await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert_eq!(
        r.body["totalResults"],
        expected_all.len(),
        "{path} {start}/{count}"
    );
    assert_eq!(
        ids(&r.body),
        window(expected_all, start, count),
        "{path} {start}/{count}"
    );
}

#[tokio::test]
async fn chunked_scans_answer_what_a_whole_read_answers() {
    for backend in backends() {
        let server = TestServer::start_with_limits(backend, limits()).await;
        let (_, c) = server.org_with_token(&["*"]).await;
        let users = seed(&c).await;
        let by = |keep: &dyn Fn(&Seeded) -> bool| -> Vec<String> {
            users
                .iter()
                .filter(|u| keep(u))
                .map(|u| u.id.clone())
                .collect()
        };

        // What one request holds: chunks of CHUNK rows, and only the page's positions.
        let before = server.state.scim.scan_stats();
        let r = c
            .get("/Users?filter=title%20eq%20%22dev%22&startIndex=2&count=3")
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let after = server.state.scim.scan_stats();
        assert_eq!(after.scans, before.scans + 1);
        assert_eq!(after.rows_read - before.rows_read, USERS as u64);
        assert!(after.largest_chunk <= u64::from(CHUNK), "{after:?}");
        assert!(after.most_kept <= 3, "{after:?}");
        let r = c.get("/Users?sortBy=title&startIndex=3&count=2").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let after = server.state.scim.scan_stats();
        assert!(
            after.most_kept <= 4,
            "a sort keeps startIndex + count - 1: {after:?}"
        );
        assert!(after.largest_chunk <= u64::from(CHUNK), "{after:?}");

        // A filter no index serves, in insertion order, windows across chunk boundaries.
        let dev = by(&|u| u.title == "dev");
        for (start, count) in [(1, 100), (4, 5), (7, 8), (14, 3), (15, 3)] {
            check(
                &c,
                "/Users?filter=title%20eq%20%22dev%22",
                &dev,
                start,
                count,
            )
            .await;
        }
        // An `or` of indexed terms is no index lookup either.
        let either = by(&|u| u.title == "dev" || u.second_email);
        check(
            &c,
            "/Users?filter=title%20eq%20%22dev%22%20or%20emails%20co%20%22example.org%22",
            &either,
            2,
            9,
        )
        .await;
        // count=0 still counts.
        check(&c, "/Users?filter=title%20eq%20%22dev%22", &dev, 1, 0).await;

        // sw / co / ew on the indexed text columns, case-insensitive where SCIM says so.
        let org_mail = by(&|u| u.second_email);
        check(
            &c,
            "/Users?filter=emails%20co%20%22EXAMPLE.org%22",
            &org_mail,
            1,
            100,
        )
        .await;
        check(
            &c,
            "/Users?filter=emails%20co%20%22EXAMPLE.org%22",
            &org_mail,
            3,
            4,
        )
        .await;
        let sevens = by(&|u| u.user_name.to_lowercase().ends_with("7@acme.com"));
        assert_eq!(sevens.len(), 4);
        check(
            &c,
            "/Users?filter=userName%20ew%20%227%40ACME.com%22",
            &sevens,
            1,
            100,
        )
        .await;
        let adas = by(&|u| {
            u.display
                .as_deref()
                .is_some_and(|d| d.to_lowercase().starts_with("ada"))
        });
        assert!(adas.len() > 3);
        check(
            &c,
            "/Users?filter=displayName%20sw%20%22ADA%22",
            &adas,
            1,
            100,
        )
        .await;
        check(
            &c,
            "/Users?filter=displayName%20sw%20%22ADA%22",
            &adas,
            2,
            2,
        )
        .await;
        let tens = by(&|u| u.user_name.to_lowercase().starts_with("user1"));
        check(
            &c,
            "/Users?filter=userName%20sw%20%22USER1%22",
            &tens,
            1,
            100,
        )
        .await;
        // A prefix with another term: the prefix narrows, the rest is checked on each.
        let dev_tens = by(&|u| u.user_name.to_lowercase().starts_with("user1") && u.title == "dev");
        check(
            &c,
            "/Users?filter=userName%20sw%20%22user1%22%20and%20title%20eq%20%22dev%22",
            &dev_tens,
            1,
            100,
        )
        .await;

        // sortBy an attribute no column keeps: missing values last, ties in insertion order,
        // descending exactly reversed.
        let mut by_given: Vec<(usize, &Seeded)> = users.iter().enumerate().collect();
        by_given.sort_by(|(a, x), (b, y)| {
            let key = |s: &Seeded| s.given.map(str::to_lowercase);
            match (key(x), key(y)) {
                (Some(p), Some(q)) => p.cmp(&q).then(a.cmp(b)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.cmp(b),
            }
        });
        let ascending: Vec<String> = by_given.iter().map(|(_, u)| u.id.clone()).collect();
        let descending: Vec<String> = ascending.iter().rev().cloned().collect();
        for (start, count) in [(1, 100), (1, 5), (6, 9), (13, 7), (38, 5), (41, 5)] {
            check(&c, "/Users?sortBy=name.givenName", &ascending, start, count).await;
            check(
                &c,
                "/Users?sortBy=name.givenName&sortOrder=descending",
                &descending,
                start,
                count,
            )
            .await;
        }
        // sortBy a column with a filter no index serves: sorted as the store sorts it.
        let mut ops: Vec<&Seeded> = users.iter().filter(|u| u.title == "ops").collect();
        ops.sort_by_key(|u| std::cmp::Reverse(u.user_name.to_lowercase()));
        let ops: Vec<String> = ops.iter().map(|u| u.id.clone()).collect();
        for (start, count) in [(1, 100), (3, 9), (20, 9)] {
            check(
                &c,
                "/Users?filter=title%20eq%20%22ops%22&sortBy=userName&sortOrder=descending",
                &ops,
                start,
                count,
            )
            .await;
        }
        // displayName sorted: users without one last in both directions.
        let mut by_display: Vec<(usize, &Seeded)> = users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.title == "dev")
            .collect();
        by_display.sort_by(|(a, x), (b, y)| {
            let key = |s: &Seeded| s.display.as_ref().map(|d| d.to_lowercase());
            match (key(x), key(y)) {
                (Some(p), Some(q)) => q.cmp(&p).then(a.cmp(b)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.cmp(b),
            }
        });
        let dev_by_display: Vec<String> = by_display.iter().map(|(_, u)| u.id.clone()).collect();
        check(
            &c,
            "/Users?filter=title%20eq%20%22dev%22&sortBy=displayName&sortOrder=descending",
            &dev_by_display,
            1,
            100,
        )
        .await;

        // A sorted scan pages only so far; past it, a SCIM error that names the limit.
        let r = c.get("/Users?sortBy=name.givenName&startIndex=101").await;
        r.assert_scim_error(400, Some("invalidValue"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("past 100"),
            "{}",
            r.body
        );

        // The root /.search: users then groups as one list, totalResults exact.
        let mut groups = Vec::new();
        for name in ["Alpha", "Beta", "Gamma"] {
            groups.push(c.create_group(name).await);
        }
        let mut root = by(&|u| {
            u.title == "dev"
                || u.display
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains('a'))
        });
        let users_matching = root.len();
        root.extend(groups.iter().cloned());
        let filter = "displayName co \"a\" or title eq \"dev\"";
        for (start, count) in [
            (1, 100),
            (2, 5),
            (users_matching - 1, 4),
            (users_matching + 2, 5),
            (users_matching + 4, 5),
        ] {
            let r = c
                .post(
                    "/.search",
                    &json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": filter,
                        "startIndex": start,
                        "count": count,
                    }),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["totalResults"], root.len(), "{start}/{count}");
            assert_eq!(ids(&r.body), window(&root, start, count), "{start}/{count}");
            assert_eq!(r.body["itemsPerPage"], window(&root, start, count).len());
        }
        // Groups searched on their own, with a filter no index serves.
        let r = c
            .post(
                "/Groups/.search",
                &json!({"filter": "displayName co \"a\" and not (displayName eq \"beta\")", "sortBy": "displayName", "sortOrder": "descending"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(ids(&r.body), vec![groups[2].clone(), groups[0].clone()]);
        assert!(server.state.scim.scan_stats().largest_chunk <= u64::from(CHUNK));
    }
}

#[tokio::test]
async fn scans_per_organization_are_bounded_and_others_are_not_affected() {
    for backend in backends() {
        let server = TestServer::start_with_limits(backend, limits()).await;
        let (slug_a, a) = server.org_with_token(&["*"]).await;
        let (_, b) = server.org_with_token(&["*"]).await;
        for c in [&a, &b] {
            c.create_user("ann@acme.com").await;
            c.create_user("bob@acme.com").await;
        }
        let org_a = server.state.admin.org(&slug_a).await.unwrap().id;
        // Two scans of organization A under way (held here, as long requests would).
        let gate = server.state.scim.scan_gate();
        let first = gate.enter(org_a).await.unwrap();
        let second = gate.enter(org_a).await.unwrap();

        let non_indexed = "/Users?filter=name.givenName%20eq%20%22Test%22";
        let r = a.get(non_indexed).await;
        r.assert_scim_error(429, None);
        assert_eq!(r.header("retry-after"), Some("2"));
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("limit per organization is 2"), "{detail}");
        // `co` is checked row by row: a scan too. So are the root search and a JSON sort.
        a.get("/Users?filter=userName%20co%20%22nn%22")
            .await
            .assert_scim_error(429, None);
        a.get("/Users?sortBy=name.givenName")
            .await
            .assert_scim_error(429, None);
        let r = a.post("/.search", &json!({"filter": "title pr"})).await;
        r.assert_scim_error(429, None);
        // What an index answers is never held up: the IdPs' lookups and plain pages.
        let r = a
            .get("/Users?filter=userName%20eq%20%22ann%40acme.com%22")
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 1);
        let r = a
            .get("/Users?filter=userName%20eq%20%22ann%40acme.com%22%20and%20active%20eq%20true")
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = a.get("/Users?filter=userName%20sw%20%22an%22").await;
        assert_eq!(r.body["totalResults"], 1, "{}", r.body);
        assert_eq!(a.get("/Users?count=10").await.status, 200);
        // Another organization scans as usual.
        let r = b.get(non_indexed).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 2);

        // A slot given back is a slot the next scan gets.
        drop(first);
        let r = a.get(non_indexed).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 2);
        drop(second);
        assert_eq!(gate.organizations_scanning(), 0);
    }
}

fn encode(filter: &str) -> String {
    filter
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The display names of the groups a filter finds, sorted.
async fn groups_found(c: &ScimClient, filter: &str) -> Vec<String> {
    let r = c
        .get(&format!(
            "/Groups?filter={}&excludedAttributes=members",
            encode(filter)
        ))
        .await;
    assert_eq!(r.status, 200, "{filter}: {}", r.body);
    let mut names: Vec<String> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert!(g.get("members").is_none(), "members were not asked for");
            g["displayName"].as_str().unwrap().to_string()
        })
        .collect();
    names.sort();
    assert_eq!(r.body["totalResults"], names.len(), "{filter}");
    names
}

/// Membership checks in group filters (answered from the membership index, not from each
/// group's whole member list) give what the whole list gives, across chunks.
#[tokio::test]
async fn membership_filters_answer_what_the_member_lists_answer() {
    for backend in backends() {
        let server = TestServer::start_with_limits(backend, limits()).await;
        let (_, c) = server.org_with_token(&["*"]).await;
        let (ann, bob, cid) = (
            c.create_user("ann@acme.com").await,
            c.create_user("bob@acme.com").await,
            c.create_user("cid@acme.com").await,
        );
        let mut groups = Vec::new();
        for (name, members) in [
            ("g0 empty", vec![]),
            ("g1 ann", vec![ann.clone()]),
            ("g2 ann bob", vec![ann.clone(), bob.clone()]),
            ("g3 bob", vec![bob.clone()]),
        ] {
            let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()});
            let r = c.post("/Groups", &body).await;
            assert_eq!(r.status, 201, "{}", r.body);
            groups.push(r.body["id"].as_str().unwrap().to_string());
        }
        // More groups than a chunk, none with these members.
        for i in 0..(CHUNK as usize + 3) {
            c.create_group(&format!("h{i:02} other")).await;
        }
        let cases: Vec<(String, Vec<&str>)> = vec![
            (
                format!("members[value eq \"{ann}\"]"),
                vec!["g1 ann", "g2 ann bob"],
            ),
            (
                format!("members.value eq \"{bob}\""),
                vec!["g2 ann bob", "g3 bob"],
            ),
            (format!("members[value eq \"{cid}\"]"), vec![]),
            (
                format!("id eq \"{}\" and members[value eq \"{ann}\"]", groups[2]),
                vec!["g2 ann bob"],
            ),
            (
                format!("id eq \"{}\" and members[value eq \"{ann}\"]", groups[3]),
                vec![],
            ),
            (
                format!("members[value eq \"{ann}\" or value eq \"{bob}\"]"),
                vec!["g1 ann", "g2 ann bob", "g3 bob"],
            ),
            (
                format!("members[value eq \"{bob}\"] and not (members[value eq \"{ann}\"])"),
                vec!["g3 bob"],
            ),
            (
                "members pr and displayName sw \"g\"".to_string(),
                vec!["g1 ann", "g2 ann bob", "g3 bob"],
            ),
            (
                "not (members pr) and displayName sw \"g\"".to_string(),
                vec!["g0 empty"],
            ),
            // Not a membership check: the whole lists are read (a group with no members has
            // no value equal to ann's id, so `ne` holds for it too).
            (
                format!("members.value ne \"{ann}\" and displayName sw \"g\""),
                vec!["g0 empty", "g2 ann bob", "g3 bob"],
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(groups_found(&c, &filter).await, expected, "{filter}");
        }
    }
}
