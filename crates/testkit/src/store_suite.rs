//! The scripted tests every [`Store`] backend must pass (DESIGN.md, "One Store suite, every
//! backend").
//!
//! Each test takes a store and creates its own organizations with random slugs, so the tests
//! can share one database and run in parallel. A backend runs the whole suite with
//! [`store_suite_tests!`](crate::store_suite_tests), given an async runner that builds the
//! store and hands it to one test:
//!
//! ```text
//! async fn run<F, Fut>(name: &str, test: F)
//! where
//!     F: FnOnce(std::sync::Arc<dyn directory::store::Store>) -> Fut,
//!     Fut: std::future::Future<Output = ()>,
//! { /* connect, then */ test(store).await }
//!
//! testkit::store_suite_tests!(run);
//! ```

use directory::ids::{AdminId, AdminKeyId, GroupId, OrgId, TokenId, UserId};
use directory::model::{
    AdminAccount, AdminInvite, AdminKeyRecord, AuditEvent, ConsoleSession, DomainClaim,
    DomainProof, GroupRecord, ManagedBy, Member, MemberKind, MembershipChange, Organization,
    SamlConnection, ScimTokenRecord, SessionRecord, UserRecord,
};
use directory::query::{
    AuditOutcome, AuditQuery, Cmp, IndexKey, ScanQuery, SortKey, StoreQuery, TextColumn, TextOp,
    UserListQuery,
};
use directory::store::{FoldedAuditEvent, Store, StoreError};
use directory::token::DomainList;
use directory::Clock as _;
use serde_json::{json, Value};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Declares one `#[tokio::test]` per suite function, each calling `$run(name, function)`.
#[macro_export]
macro_rules! store_suite_tests {
    ($run:ident) => {
        $crate::store_suite_tests!(@each $run,
            ping_answers,
            orgs_and_slugs_are_unique,
            tokens_hash_lookup_revoke_domains_touch,
            admin_keys_hash_lookup,
            users_insert_get_update_delete,
            user_name_unique_case_insensitive_keeps_case,
            concurrent_inserts_each_get_their_own_answer,
            version_mismatch_is_refused,
            query_users_by_each_index_key_and_sort_and_window,
            query_groups_by_key_sort_and_window,
            list_groups_after_pages_by_name_with_prefix,
            group_members_after_pages_by_member_id,
            group_members_among_finds_only_members,
            emails_index,
            groups_and_members_add_remove_removeall_unknown_member,
            delete_user_removes_memberships,
            delete_group_removes_memberships,
            group_members_display,
            user_groups,
            scim_only_group_visibility,
            concurrent_member_adds_lose_nothing,
            refused_writes_leave_concurrent_writes_whole,
            sequential_pages_follow_positions_across_deletes,
            organizations_never_see_each_other,
            users_by_ids_reads_only_the_organizations_users,
            audit_append_and_list,
            audit_folded_events_count_into_one_row,
            audit_filters_combine_and_page_both_ways,
            last_audit_event_by_prefix_and_outcome,
            succeeded_is_below_400_in_the_list_and_the_newest_event_alike,
            saml_connection_put_get_replace,
            login_domain_claims_route_only_when_verified,
            one_verified_claim_per_domain,
            login_domain_checks_lapse_after_consecutive_failures,
            authn_requests_are_single_use_and_expire,
            assertion_replay_cache,
            sessions_create_touch_delete,
            console_admins_unique_per_org_and_scoped,
            console_invites_single_use_and_expire,
            console_sessions_create_touch_delete,
            sign_in_failures_counted_in_window,
            concurrent_sign_in_reservations_never_pass_the_limit,
            console_admins_list_link_delete,
            console_admin_roles_group_and_grants,
            console_sso_sessions_end_by_user,
            console_user_pages_filter_search_and_keyset,
            user_sessions_newest_first_and_scoped,
            console_user_pages_broad_search,
            console_user_broad_search_bounded_scan,
            scans_visit_every_match_once_in_chunks,
            text_keys_match_byte_for_byte_and_page,
        );
    };
    (@each $run:ident, $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $run(stringify!($name), $crate::store_suite::$name).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// A fixed instant with whole milliseconds (what the stores keep), plus `offset_ms`.
fn at(offset_ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_750_000_000).unwrap() + Duration::milliseconds(offset_ms)
}

fn now_ms() -> OffsetDateTime {
    let n = directory::SystemClock.now().unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(n / 1_000_000 * 1_000_000).unwrap()
}

fn random_slug() -> String {
    format!("t-{}", Uuid::new_v4().simple())
}

async fn new_org(store: &Arc<dyn Store>) -> Organization {
    let org = Organization {
        id: OrgId::new_random(),
        slug: random_slug(),
        name: "Test Org".into(),
        created_at: now_ms(),
    };
    store.create_org(&org).await.unwrap();
    org
}

fn user_doc(user_name: &str, display: Option<&str>, emails: &[&str]) -> Value {
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true,
    });
    if let Some(d) = display {
        doc["displayName"] = json!(d);
    }
    if !emails.is_empty() {
        doc["emails"] = Value::Array(
            emails
                .iter()
                .enumerate()
                .map(|(i, e)| json!({"value": e, "primary": i == 0, "type": "work"}))
                .collect(),
        );
    }
    doc
}

fn user(org: OrgId, user_name: &str) -> UserRecord {
    user_with(org, user_name, None, &[])
}

fn user_with(org: OrgId, user_name: &str, display: Option<&str>, emails: &[&str]) -> UserRecord {
    let t = now_ms();
    let mut u = UserRecord {
        id: UserId::new_random(),
        org_id: org,
        user_name: String::new(),
        external_id: None,
        display_name: None,
        active: true,
        emails: Vec::new(),
        doc: user_doc(user_name, display, emails),
        managed_by: ManagedBy::Scim,
        created_at: t,
        updated_at: t,
        version: 1,
    };
    u.reindex();
    u
}

fn group(org: OrgId, name: &str) -> GroupRecord {
    let t = now_ms();
    let mut g = GroupRecord {
        id: GroupId::new_random(),
        org_id: org,
        display_name: String::new(),
        external_id: None,
        doc: json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
        }),
        managed_by: ManagedBy::Scim,
        scim_visible: true,
        created_at: t,
        updated_at: t,
        version: 1,
    };
    g.reindex();
    g
}

fn token(org: OrgId, name: &str, created_at: OffsetDateTime) -> ScimTokenRecord {
    let secret = directory::token::generate_secret("pcs");
    ScimTokenRecord {
        id: TokenId::new_random(),
        org_id: org,
        name: name.into(),
        prefix: directory::token::prefix_of(&secret),
        hash: directory::token::hash_secret(&secret),
        domains: DomainList::parse(&["acme.com"]).unwrap(),
        created_at,
        last_used_at: None,
        revoked_at: None,
    }
}

async fn insert_user(store: &Arc<dyn Store>, u: &UserRecord) {
    store.insert_user(u).await.unwrap();
}

/// Writes a user change the way the service does: bump the version, check the old one.
async fn bump_user(store: &Arc<dyn Store>, u: &mut UserRecord) {
    let expected = u.version;
    u.version += 1;
    u.reindex();
    store.update_user(u, expected).await.unwrap();
}

async fn change_group(
    store: &Arc<dyn Store>,
    g: &mut GroupRecord,
    changes: &[MembershipChange],
) -> Result<(), StoreError> {
    let expected = g.version;
    let mut next = g.clone();
    next.version += 1;
    next.reindex();
    store.update_group(&next, expected, changes).await?;
    *g = next;
    Ok(())
}

async fn member_ids(store: &Arc<dyn Store>, org: OrgId, g: GroupId) -> Vec<String> {
    store
        .group_members(org, g)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn ids_of<T, I: ToString>(items: &[T], id: impl Fn(&T) -> I) -> Vec<String> {
    items.iter().map(|x| id(x).to_string()).collect()
}

fn query(key: Option<IndexKey>) -> StoreQuery {
    StoreQuery::all(key)
}

fn sorted_query(sort: SortKey, descending: bool) -> StoreQuery {
    StoreQuery {
        key: None,
        sort,
        descending,
        offset: 0,
        limit: None,
    }
}

async fn user_ids(store: &Arc<dyn Store>, org: OrgId, q: &StoreQuery) -> Vec<String> {
    let page = store.query_users(org, q).await.unwrap();
    ids_of(&page.items, |u| u.id)
}

async fn group_ids(
    store: &Arc<dyn Store>,
    org: OrgId,
    scim_only: bool,
    q: &StoreQuery,
) -> Vec<String> {
    let page = store.query_groups(org, scim_only, q).await.unwrap();
    ids_of(&page.items, |g| g.id)
}

/// The order a sort must give: by `key` (None last, whichever direction), ties by insertion.
fn expected_order<T, I: ToString>(
    rows: &[T],
    key: impl Fn(&T) -> Option<String>,
    id: impl Fn(&T) -> I,
    descending: bool,
) -> Vec<String> {
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ka, kb) = (key(&rows[a]), key(&rows[b]));
        let by_key = match (&ka, &kb) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) if descending => y.as_bytes().cmp(x.as_bytes()),
            (Some(x), Some(y)) => x.as_bytes().cmp(y.as_bytes()),
        };
        by_key.then(a.cmp(&b))
    });
    idx.into_iter().map(|i| id(&rows[i]).to_string()).collect()
}

fn audit(org: OrgId, op: &str, resource: Option<&str>, at_ms: i64) -> AuditEvent {
    AuditEvent {
        org_id: org,
        at: at(at_ms),
        actor_kind: "cli".into(),
        actor_id: None,
        operation: op.into(),
        resource_type: resource.map(|_| "User".to_string()),
        resource_id: resource.map(String::from),
        status: 201,
        detail: Some(format!("{op} done")),
        request_id: Some(Uuid::new_v4().to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// The suite.

pub async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

pub async fn orgs_and_slugs_are_unique(store: Arc<dyn Store>) {
    let a = new_org(&store).await;
    assert_eq!(store.org_by_slug(&a.slug).await.unwrap(), Some(a.clone()));
    assert_eq!(store.org_by_id(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.org_by_slug(&random_slug()).await.unwrap(), None);
    assert_eq!(store.org_by_id(OrgId::new_random()).await.unwrap(), None);

    let same_slug = Organization {
        id: OrgId::new_random(),
        slug: a.slug.clone(),
        name: "Other".into(),
        created_at: now_ms(),
    };
    assert_eq!(
        store.create_org(&same_slug).await,
        Err(StoreError::Conflict("slug".into()))
    );
    assert_eq!(store.org_by_id(same_slug.id).await.unwrap(), None);

    // Slugs are compared exactly, and listed in byte order.
    let b = Organization {
        id: OrgId::new_random(),
        slug: format!("{}-Z_b", a.slug),
        name: "B".into(),
        created_at: now_ms(),
    };
    store.create_org(&b).await.unwrap();
    let list = store.list_orgs().await.unwrap();
    assert!(list.contains(&a) && list.contains(&b));
    let slugs: Vec<&str> = list.iter().map(|o| o.slug.as_str()).collect();
    assert!(
        slugs.windows(2).all(|w| w[0].as_bytes() <= w[1].as_bytes()),
        "organizations are listed by slug"
    );
}

pub async fn tokens_hash_lookup_revoke_domains_touch(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let t1 = token(org.id, "okta", at(0));
    let t2 = token(org.id, "rotation", at(1000));
    store.create_token(&t2).await.unwrap();
    store.create_token(&t1).await.unwrap();

    assert_eq!(
        store.token_by_hash(&t1.hash).await.unwrap(),
        Some(t1.clone())
    );
    assert_eq!(store.token_by_hash("0000").await.unwrap(), None);
    // Oldest first.
    assert_eq!(
        store.list_tokens(org.id).await.unwrap(),
        vec![t1.clone(), t2.clone()]
    );

    // A hash is unique.
    let mut dup = token(org.id, "dup", at(2000));
    dup.hash = t1.hash.clone();
    assert_eq!(
        store.create_token(&dup).await,
        Err(StoreError::Conflict("token".into()))
    );
    assert_eq!(store.list_tokens(org.id).await.unwrap().len(), 2);

    // Revoking keeps the first instant; the other token stays live.
    store.revoke_token(org.id, t1.id, at(5000)).await.unwrap();
    store.revoke_token(org.id, t1.id, at(9000)).await.unwrap();
    let got = store.token_by_hash(&t1.hash).await.unwrap().unwrap();
    assert_eq!(got.revoked_at, Some(at(5000)));
    assert_eq!(
        store
            .token_by_hash(&t2.hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert_eq!(
        store
            .revoke_token(org.id, TokenId::new_random(), at(0))
            .await,
        Err(StoreError::NotFound)
    );

    // Domains change without re-issuing.
    let domains = DomainList::parse(&["acme.io", "acme.com", "*"]).unwrap();
    store
        .set_token_domains(org.id, t2.id, &domains)
        .await
        .unwrap();
    let got = store.token_by_hash(&t2.hash).await.unwrap().unwrap();
    assert_eq!(got.domains, domains);
    assert_eq!(got.hash, t2.hash);
    assert_eq!(
        store
            .set_token_domains(org.id, TokenId::new_random(), &domains)
            .await,
        Err(StoreError::NotFound)
    );

    // Last use only moves forward.
    store.touch_token(org.id, t2.id, at(7000)).await.unwrap();
    store.touch_token(org.id, t2.id, at(6000)).await.unwrap();
    let got = store.token_by_hash(&t2.hash).await.unwrap().unwrap();
    assert_eq!(got.last_used_at, Some(at(7000)));
    store.touch_token(org.id, t2.id, at(8000)).await.unwrap();
    let got = store.token_by_hash(&t2.hash).await.unwrap().unwrap();
    assert_eq!(got.last_used_at, Some(at(8000)));
}

pub async fn admin_keys_hash_lookup(store: Arc<dyn Store>) {
    let secret = directory::token::generate_secret("pca");
    let key = AdminKeyRecord {
        id: AdminKeyId::new_random(),
        name: "ops".into(),
        prefix: directory::token::prefix_of(&secret),
        hash: directory::token::hash_secret(&secret),
        created_at: now_ms(),
    };
    store.create_admin_key(&key).await.unwrap();
    assert_eq!(
        store.admin_key_by_hash(&key.hash).await.unwrap(),
        Some(key.clone())
    );
    let other = directory::token::hash_secret(&directory::token::generate_secret("pca"));
    assert_eq!(store.admin_key_by_hash(&other).await.unwrap(), None);
    let dup = AdminKeyRecord {
        id: AdminKeyId::new_random(),
        ..key.clone()
    };
    assert_eq!(
        store.create_admin_key(&dup).await,
        Err(StoreError::Conflict("admin key".into()))
    );
}

pub async fn users_insert_get_update_delete(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let mut u = user_with(
        org.id,
        "jane@acme.com",
        Some("Jane Doe"),
        &["Jane@Acme.com", "jd@acme.io"],
    );
    u.doc["externalId"] = json!("00u1");
    u.doc["name"] = json!({"givenName": "Jane", "familyName": "Doe"});
    u.managed_by = ManagedBy::Local;
    u.reindex();
    insert_user(&store, &u).await;
    // Everything comes back as written, the document key order included.
    let got = store.get_user(org.id, u.id).await.unwrap().unwrap();
    assert_eq!(got, u);
    assert_eq!(got.doc.to_string(), u.doc.to_string());
    assert_eq!(got.emails, vec!["jane@acme.com", "jd@acme.io"]);
    assert_eq!(got.external_id.as_deref(), Some("00u1"));
    assert_eq!(store.get_user(org.id, UserId::new_random()).await, Ok(None));

    // The same id twice is refused.
    let mut again = user(org.id, "other@acme.com");
    again.id = u.id;
    assert!(matches!(
        store.insert_user(&again).await,
        Err(StoreError::Conflict(_))
    ));

    u.doc["displayName"] = json!("Jane Q. Doe");
    u.doc["active"] = json!(false);
    u.doc.as_object_mut().unwrap().remove("externalId");
    u.managed_by = ManagedBy::Scim;
    u.updated_at += Duration::seconds(5);
    bump_user(&store, &mut u).await;
    let got = store.get_user(org.id, u.id).await.unwrap().unwrap();
    assert_eq!(got, u);
    assert_eq!(got.version, 2);
    assert!(!got.active);
    assert_eq!(got.external_id, None);
    assert_eq!(got.display_name.as_deref(), Some("Jane Q. Doe"));
    assert_eq!(got.created_at, u.created_at);

    store.delete_user(org.id, u.id).await.unwrap();
    assert_eq!(store.get_user(org.id, u.id).await, Ok(None));
    assert_eq!(
        store.delete_user(org.id, u.id).await,
        Err(StoreError::NotFound)
    );
    let mut gone = u.clone();
    gone.version += 1;
    assert_eq!(
        store.update_user(&gone, u.version).await,
        Err(StoreError::NotFound)
    );
    assert!(store
        .query_users(
            org.id,
            &query(Some(IndexKey::EmailLower("jd@acme.io".into())))
        )
        .await
        .unwrap()
        .items
        .is_empty());
    // The userName is free again.
    insert_user(&store, &user(org.id, "JANE@acme.com")).await;
}

/// Inserts arriving together (which a backend may write as one statement) each get their own
/// answer: of many concurrent inserts of one userName exactly one wins, and the others'
/// distinct users all go in.
pub async fn concurrent_inserts_each_get_their_own_answer(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        let name = if i % 2 == 0 {
            "Same@Acme.com".to_string()
        } else {
            format!("u{i}@acme.com")
        };
        let u = user(org.id, &name);
        tasks.push(tokio::spawn(
            async move { (i, store.insert_user(&u).await) },
        ));
    }
    let mut same_ok = 0;
    for t in tasks {
        let (i, outcome) = t.await.unwrap();
        if i % 2 == 0 {
            match outcome {
                Ok(()) => same_ok += 1,
                Err(e) => assert_eq!(e, StoreError::Conflict("userName".into())),
            }
        } else {
            assert_eq!(outcome, Ok(()), "distinct user {i}");
        }
    }
    assert_eq!(same_ok, 1);
    let all = store.query_users(org.id, &query(None)).await.unwrap();
    assert_eq!(all.total, 21);
}

pub async fn user_name_unique_case_insensitive_keeps_case(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let jane = user(org.id, "Jane.Doe@Acme.com");
    insert_user(&store, &jane).await;
    assert_eq!(
        store.insert_user(&user(org.id, "jane.doe@ACME.COM")).await,
        Err(StoreError::Conflict("userName".into()))
    );
    let got = store.get_user(org.id, jane.id).await.unwrap().unwrap();
    assert_eq!(got.user_name, "Jane.Doe@Acme.com");
    let found = store
        .query_users(
            org.id,
            &query(Some(IndexKey::UserNameLower("jane.doe@acme.com".into()))),
        )
        .await
        .unwrap();
    assert_eq!(ids_of(&found.items, |u| u.id), vec![jane.id.to_string()]);
    assert_eq!(found.items[0].user_name, "Jane.Doe@Acme.com");

    // Renaming another user onto it is refused, and changes nothing.
    let mut bob = user(org.id, "bob@acme.com");
    insert_user(&store, &bob).await;
    let before = bob.clone();
    bob.doc["userName"] = json!("JANE.DOE@acme.com");
    bob.version += 1;
    bob.reindex();
    assert_eq!(
        store.update_user(&bob, before.version).await,
        Err(StoreError::Conflict("userName".into()))
    );
    assert_eq!(store.get_user(org.id, bob.id).await.unwrap(), Some(before));

    // A user may change the case of their own userName; it keeps the new case.
    let mut jane = jane;
    jane.doc["userName"] = json!("JANE.doe@acme.com");
    bump_user(&store, &mut jane).await;
    let got = store.get_user(org.id, jane.id).await.unwrap().unwrap();
    assert_eq!(got.user_name, "JANE.doe@acme.com");

    // Another organization has its own namespace.
    let other = new_org(&store).await;
    insert_user(&store, &user(other.id, "jane.doe@acme.com")).await;
}

pub async fn version_mismatch_is_refused(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let mut u = user(org.id, "v@acme.com");
    insert_user(&store, &u).await;
    bump_user(&store, &mut u).await; // version 2
    let mut stale = u.clone();
    stale.doc["displayName"] = json!("stale");
    stale.version = 2;
    stale.reindex();
    assert_eq!(
        store.update_user(&stale, 1).await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(store.get_user(org.id, u.id).await.unwrap(), Some(u.clone()));

    let mut g = group(org.id, "Eng");
    store.insert_group(&g, &[]).await.unwrap();
    change_group(&store, &mut g, &[]).await.unwrap(); // version 2
    let mut stale = g.clone();
    stale.doc["displayName"] = json!("stale");
    stale.reindex();
    assert_eq!(
        store
            .update_group(&stale, 1, &[MembershipChange::Add(vec![u.id.to_string()])])
            .await,
        Err(StoreError::VersionMismatch)
    );
    assert_eq!(
        store.get_group(org.id, g.id).await.unwrap(),
        Some(g.clone())
    );
    assert!(member_ids(&store, org.id, g.id).await.is_empty());
    assert_eq!(
        store.update_group(&group(org.id, "nope"), 1, &[]).await,
        Err(StoreError::NotFound)
    );
}

pub async fn query_users_by_each_index_key_and_sort_and_window(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    // (userName, displayName, externalId, active, created, updated): ties and NULLs on purpose,
    // and values whose byte order differs from a linguistic collation.
    type Spec<'a> = (&'a str, Option<&'a str>, Option<&'a str>, bool, i64, i64);
    let spec: [Spec; 7] = [
        ("carol@acme.com", Some("Émile"), Some("b-2"), true, 10, 50),
        ("Alice@acme.com", None, Some("B-1"), true, 20, 40),
        ("bob@acme.com", Some("zed"), None, false, 20, 30),
        ("_dave@acme.com", Some("Anna"), Some("a_1"), true, 30, 30),
        ("eve@acme.com", Some("anna"), Some("b-2"), false, 40, 20),
        ("Zoe@acme.com", None, None, true, 50, 10),
        (
            "ann-marie@acme.com",
            Some("Ann Marie"),
            Some("a1"),
            true,
            60,
            60,
        ),
    ];
    let mut users = Vec::new();
    for (name, display, ext, active, created, updated) in spec {
        let mut u = user_with(org.id, name, display, &[&name.to_lowercase()]);
        if let Some(e) = ext {
            u.doc["externalId"] = json!(e);
        }
        u.doc["active"] = json!(active);
        u.created_at = at(created);
        u.updated_at = at(updated);
        u.reindex();
        insert_user(&store, &u).await;
        users.push(u);
    }
    // Another organization's users never show up.
    insert_user(&store, &user(new_org(&store).await.id, "alice@acme.com")).await;

    let ids = |pred: &dyn Fn(&UserRecord) -> bool| -> Vec<String> {
        users
            .iter()
            .filter(|u| pred(u))
            .map(|u| u.id.to_string())
            .collect()
    };
    let all = ids(&|_| true);
    assert_eq!(user_ids(&store, org.id, &query(None)).await, all);

    // Each index key.
    let cases: Vec<(IndexKey, Vec<String>)> = vec![
        (
            IndexKey::Id(users[2].id.to_string()),
            ids(&|u| u.id == users[2].id),
        ),
        (IndexKey::Id("not-a-uuid".into()), vec![]),
        (IndexKey::Id(Uuid::new_v4().to_string()), vec![]),
        (
            IndexKey::UserNameLower("alice@acme.com".into()),
            ids(&|u| u.user_name == "Alice@acme.com"),
        ),
        (IndexKey::UserNameLower("Alice@acme.com".into()), vec![]),
        (
            IndexKey::ExternalId("b-2".into()),
            ids(&|u| u.external_id.as_deref() == Some("b-2")),
        ),
        // externalId is case-exact.
        (
            IndexKey::ExternalId("B-1".into()),
            ids(&|u| u.external_id.as_deref() == Some("B-1")),
        ),
        (IndexKey::ExternalId("b-1".into()), vec![]),
        (
            IndexKey::DisplayNameLower("anna".into()),
            ids(&|u| u.display_name.as_deref().map(str::to_lowercase) == Some("anna".into())),
        ),
        (
            IndexKey::EmailLower("bob@acme.com".into()),
            ids(&|u| u.user_name == "bob@acme.com"),
        ),
        (IndexKey::Active(true), ids(&|u| u.active)),
        (IndexKey::Active(false), ids(&|u| !u.active)),
        (
            IndexKey::Created(Cmp::Gt, at(20)),
            ids(&|u| u.created_at > at(20)),
        ),
        (
            IndexKey::Created(Cmp::Ge, at(20)),
            ids(&|u| u.created_at >= at(20)),
        ),
        (
            IndexKey::Created(Cmp::Lt, at(20)),
            ids(&|u| u.created_at < at(20)),
        ),
        (
            IndexKey::Created(Cmp::Le, at(20)),
            ids(&|u| u.created_at <= at(20)),
        ),
        (
            IndexKey::LastModified(Cmp::Gt, at(30)),
            ids(&|u| u.updated_at > at(30)),
        ),
        (
            IndexKey::LastModified(Cmp::Ge, at(30)),
            ids(&|u| u.updated_at >= at(30)),
        ),
        (
            IndexKey::LastModified(Cmp::Lt, at(30)),
            ids(&|u| u.updated_at < at(30)),
        ),
        (
            IndexKey::LastModified(Cmp::Le, at(30)),
            ids(&|u| u.updated_at <= at(30)),
        ),
    ];
    for (key, want) in cases {
        let page = store
            .query_users(org.id, &query(Some(key.clone())))
            .await
            .unwrap();
        assert_eq!(ids_of(&page.items, |u| u.id), want, "key {key:?}");
        assert_eq!(page.total, want.len() as u64, "total for key {key:?}");
    }

    // Each sort, both directions: NULLs last, ties in insertion order, byte order.
    let lower = |s: &Option<String>| s.as_ref().map(|v| v.to_lowercase());
    for descending in [false, true] {
        let seq = user_ids(&store, org.id, &sorted_query(SortKey::Seq, descending)).await;
        let mut want = all.clone();
        if descending {
            want.reverse();
        }
        assert_eq!(seq, want, "seq descending={descending}");
        type KeyFn = Box<dyn Fn(&UserRecord) -> Option<String>>;
        let sorts: Vec<(SortKey, KeyFn)> = vec![
            (
                SortKey::UserName,
                Box::new(|u: &UserRecord| Some(u.user_name.to_lowercase())),
            ),
            (
                SortKey::DisplayName,
                Box::new(move |u: &UserRecord| lower(&u.display_name)),
            ),
            (
                SortKey::ExternalId,
                Box::new(|u: &UserRecord| u.external_id.clone()),
            ),
            (
                SortKey::Created,
                Box::new(|u: &UserRecord| {
                    Some(format!("{:020}", u.created_at.unix_timestamp_nanos()))
                }),
            ),
            (
                SortKey::LastModified,
                Box::new(|u: &UserRecord| {
                    Some(format!("{:020}", u.updated_at.unix_timestamp_nanos()))
                }),
            ),
        ];
        for (sort, key) in sorts {
            let got = user_ids(&store, org.id, &sorted_query(sort, descending)).await;
            let want = expected_order(&users, &key, |u| u.id, descending);
            assert_eq!(got, want, "sort {sort:?} descending={descending}");
        }
    }

    // Windows: offset and limit apply after the sort; the total counts every match.
    let by_name = expected_order(
        &users,
        |u| Some(u.user_name.to_lowercase()),
        |u| u.id,
        false,
    );
    let window = |offset: u64, limit: Option<u64>| StoreQuery {
        key: None,
        sort: SortKey::UserName,
        descending: false,
        offset,
        limit,
    };
    for (offset, limit) in [
        (0, Some(2)),
        (2, Some(2)),
        (6, Some(5)),
        (3, None),
        (9, None),
        (9, Some(1)),
    ] {
        let page = store
            .query_users(org.id, &window(offset, limit))
            .await
            .unwrap();
        let want: Vec<String> = by_name
            .iter()
            .skip(offset as usize)
            .take(limit.unwrap_or(u64::MAX) as usize)
            .cloned()
            .collect();
        assert_eq!(
            ids_of(&page.items, |u| u.id),
            want,
            "offset {offset} limit {limit:?}"
        );
        assert_eq!(page.total, users.len() as u64);
    }
    let page = store
        .query_users(org.id, &window(0, Some(0)))
        .await
        .unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.total, users.len() as u64);
    // A key and a window together.
    let q = StoreQuery {
        key: Some(IndexKey::Active(true)),
        sort: SortKey::Created,
        descending: true,
        offset: 1,
        limit: Some(2),
    };
    let page = store.query_users(org.id, &q).await.unwrap();
    let active: Vec<UserRecord> = users.iter().filter(|u| u.active).cloned().collect();
    let want: Vec<String> = expected_order(
        &active,
        |u| Some(format!("{:020}", u.created_at.unix_timestamp_nanos())),
        |u| u.id,
        true,
    )
    .into_iter()
    .skip(1)
    .take(2)
    .collect();
    assert_eq!(ids_of(&page.items, |u| u.id), want);
    assert_eq!(page.total, active.len() as u64);
    // Rows come back whole.
    assert_eq!(
        page.items[0],
        *active.iter().find(|u| u.id.to_string() == want[0]).unwrap()
    );
}

pub async fn query_groups_by_key_sort_and_window(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let spec: [(&str, Option<&str>, i64, i64); 5] = [
        ("eng", Some("x-2"), 10, 40),
        ("Émigrés", None, 20, 30),
        ("Admins", Some("X-1"), 20, 20),
        ("admins", Some("x-2"), 30, 10),
        ("_ops", None, 40, 50),
    ];
    let mut groups = Vec::new();
    for (name, ext, created, updated) in spec {
        let mut g = group(org.id, name);
        if let Some(e) = ext {
            g.doc["externalId"] = json!(e);
        }
        g.created_at = at(created);
        g.updated_at = at(updated);
        g.reindex();
        store.insert_group(&g, &[]).await.unwrap();
        groups.push(g);
    }
    store
        .insert_group(&group(new_org(&store).await.id, "eng"), &[])
        .await
        .unwrap();
    let ids = |pred: &dyn Fn(&GroupRecord) -> bool| -> Vec<String> {
        groups
            .iter()
            .filter(|g| pred(g))
            .map(|g| g.id.to_string())
            .collect()
    };
    let cases: Vec<(IndexKey, Vec<String>)> = vec![
        (
            IndexKey::Id(groups[1].id.to_string()),
            ids(&|g| g.id == groups[1].id),
        ),
        (IndexKey::Id("nope".into()), vec![]),
        (
            IndexKey::DisplayNameLower("admins".into()),
            ids(&|g| g.display_name.to_lowercase() == "admins"),
        ),
        (
            IndexKey::ExternalId("x-2".into()),
            ids(&|g| g.external_id.as_deref() == Some("x-2")),
        ),
        (
            IndexKey::Created(Cmp::Ge, at(20)),
            ids(&|g| g.created_at >= at(20)),
        ),
        (
            IndexKey::LastModified(Cmp::Lt, at(30)),
            ids(&|g| g.updated_at < at(30)),
        ),
    ];
    for (key, want) in cases {
        let page = store
            .query_groups(org.id, false, &query(Some(key.clone())))
            .await
            .unwrap();
        assert_eq!(ids_of(&page.items, |g| g.id), want, "key {key:?}");
        assert_eq!(page.total, want.len() as u64);
    }
    for descending in [false, true] {
        type KeyFn = Box<dyn Fn(&GroupRecord) -> Option<String>>;
        let sorts: Vec<(SortKey, KeyFn)> = vec![
            (
                SortKey::DisplayName,
                Box::new(|g: &GroupRecord| Some(g.display_name.to_lowercase())),
            ),
            // Groups have no userName: it sorts by displayName.
            (
                SortKey::UserName,
                Box::new(|g: &GroupRecord| Some(g.display_name.to_lowercase())),
            ),
            (
                SortKey::ExternalId,
                Box::new(|g: &GroupRecord| g.external_id.clone()),
            ),
            (
                SortKey::Created,
                Box::new(|g: &GroupRecord| {
                    Some(format!("{:020}", g.created_at.unix_timestamp_nanos()))
                }),
            ),
            (
                SortKey::LastModified,
                Box::new(|g: &GroupRecord| {
                    Some(format!("{:020}", g.updated_at.unix_timestamp_nanos()))
                }),
            ),
        ];
        for (sort, key) in sorts {
            let got = group_ids(&store, org.id, false, &sorted_query(sort, descending)).await;
            let want = expected_order(&groups, &key, |g| g.id, descending);
            assert_eq!(got, want, "sort {sort:?} descending={descending}");
        }
    }
    let q = StoreQuery {
        key: None,
        sort: SortKey::DisplayName,
        descending: false,
        offset: 1,
        limit: Some(3),
    };
    let page = store.query_groups(org.id, false, &q).await.unwrap();
    let want: Vec<String> = expected_order(
        &groups,
        |g| Some(g.display_name.to_lowercase()),
        |g| g.id,
        false,
    )
    .into_iter()
    .skip(1)
    .take(3)
    .collect();
    assert_eq!(ids_of(&page.items, |g| g.id), want);
    assert_eq!(page.total, groups.len() as u64);
    let found = page.items.iter().find(|g| g.id == groups[0].id).cloned();
    if let Some(g) = found {
        assert_eq!(g, groups[0]);
    }
}

pub async fn emails_index(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let mut a = user_with(
        org.id,
        "a@acme.com",
        None,
        &["Z.Work@Acme.com", "home@example.org", "z.work@acme.com"],
    );
    insert_user(&store, &a).await;
    let b = user_with(org.id, "b@acme.com", None, &["shared@acme.com"]);
    insert_user(&store, &b).await;
    let none = user(org.id, "c@acme.com");
    insert_user(&store, &none).await;

    let got = store.get_user(org.id, a.id).await.unwrap().unwrap();
    assert_eq!(got.emails, vec!["home@example.org", "z.work@acme.com"]);
    assert_eq!(
        store
            .get_user(org.id, none.id)
            .await
            .unwrap()
            .unwrap()
            .emails,
        Vec::<String>::new()
    );
    let by_email = |e: &str| query(Some(IndexKey::EmailLower(e.to_string())));
    assert_eq!(
        user_ids(&store, org.id, &by_email("z.work@acme.com")).await,
        vec![a.id.to_string()]
    );
    assert!(user_ids(&store, org.id, &by_email("Z.Work@Acme.com"))
        .await
        .is_empty());

    // Changing the emails re-indexes them; two users may share one.
    a.doc["emails"] = json!([{"value": "Shared@Acme.com"}, {"value": "new@acme.com"}]);
    bump_user(&store, &mut a).await;
    assert!(user_ids(&store, org.id, &by_email("z.work@acme.com"))
        .await
        .is_empty());
    assert_eq!(
        user_ids(&store, org.id, &by_email("new@acme.com")).await,
        vec![a.id.to_string()]
    );
    assert_eq!(
        user_ids(&store, org.id, &by_email("shared@acme.com")).await,
        vec![a.id.to_string(), b.id.to_string()]
    );
    assert_eq!(
        store.get_user(org.id, a.id).await.unwrap().unwrap().emails,
        vec!["new@acme.com", "shared@acme.com"]
    );
    // Another organization's index is its own.
    let other = new_org(&store).await;
    assert!(user_ids(&store, other.id, &by_email("shared@acme.com"))
        .await
        .is_empty());
}

pub async fn groups_and_members_add_remove_removeall_unknown_member(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let mut users = Vec::new();
    for i in 0..4 {
        let u = user(org.id, &format!("m{i}@acme.com"));
        insert_user(&store, &u).await;
        users.push(u.id.to_string());
    }
    let sub = group(org.id, "Sub");
    store.insert_group(&sub, &[]).await.unwrap();

    let mut g = group(org.id, "Eng");
    g.doc["externalId"] = json!("okta-eng");
    g.reindex();
    store
        .insert_group(&g, &[users[0].clone(), users[1].clone(), users[0].clone()])
        .await
        .unwrap();
    assert_eq!(
        store.get_group(org.id, g.id).await.unwrap(),
        Some(g.clone())
    );
    assert_eq!(
        member_ids(&store, org.id, g.id).await,
        sorted(vec![users[0].clone(), users[1].clone()])
    );

    // Add: a new one, one already there, a group.
    change_group(
        &store,
        &mut g,
        &[MembershipChange::Add(vec![
            users[2].clone(),
            users[0].clone(),
            sub.id.to_string(),
        ])],
    )
    .await
    .unwrap();
    assert_eq!(
        member_ids(&store, org.id, g.id).await,
        sorted(vec![
            users[0].clone(),
            users[1].clone(),
            users[2].clone(),
            sub.id.to_string()
        ])
    );
    assert_eq!(
        store.get_group(org.id, g.id).await.unwrap(),
        Some(g.clone())
    );

    // Remove: present ones, and ones that are not members (ignored).
    change_group(
        &store,
        &mut g,
        &[MembershipChange::Remove(vec![
            users[1].clone(),
            users[3].clone(),
            Uuid::new_v4().to_string(),
            sub.id.to_string(),
        ])],
    )
    .await
    .unwrap();
    assert_eq!(
        member_ids(&store, org.id, g.id).await,
        sorted(vec![users[0].clone(), users[2].clone()])
    );

    // An unknown member fails the whole change: nothing is written.
    let before_members = member_ids(&store, org.id, g.id).await;
    let other_org = new_org(&store).await;
    let foreign = user(other_org.id, "m0@acme.com");
    insert_user(&store, &foreign).await;
    let unknown = [
        "not-a-uuid".to_string(),
        Uuid::new_v4().to_string(),
        foreign.id.to_string(),
        g.id.to_string(), // a group is not a member of itself
    ];
    for bad in unknown {
        let mut attempt = g.clone();
        attempt.doc["displayName"] = json!("Renamed");
        let err = change_group(
            &store,
            &mut attempt,
            &[
                MembershipChange::RemoveAll,
                MembershipChange::Add(vec![users[3].clone(), bad.clone()]),
            ],
        )
        .await;
        assert_eq!(err, Err(StoreError::UnknownMember(bad.clone())));
        assert_eq!(
            store.get_group(org.id, g.id).await.unwrap(),
            Some(g.clone())
        );
        assert_eq!(member_ids(&store, org.id, g.id).await, before_members);
    }
    // The first unknown id, in the order given, is the one reported.
    let first = Uuid::new_v4().to_string();
    assert_eq!(
        change_group(
            &store,
            &mut g.clone(),
            &[MembershipChange::Add(vec![
                users[3].clone(),
                first.clone(),
                "second".into()
            ])],
        )
        .await,
        Err(StoreError::UnknownMember(first))
    );

    // Changes apply in order: replace all, then add and remove within one write.
    change_group(
        &store,
        &mut g,
        &[
            MembershipChange::RemoveAll,
            MembershipChange::Add(vec![users[3].clone(), users[1].clone()]),
            MembershipChange::Remove(vec![users[1].clone()]),
            MembershipChange::Add(vec![users[0].clone()]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        member_ids(&store, org.id, g.id).await,
        sorted(vec![users[3].clone(), users[0].clone()])
    );
    change_group(&store, &mut g, &[MembershipChange::RemoveAll])
        .await
        .unwrap();
    assert!(member_ids(&store, org.id, g.id).await.is_empty());
    assert_eq!(
        store
            .get_group(org.id, g.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        g.version
    );

    // A group created with an unknown member is not created at all.
    let bad = group(org.id, "Bad");
    assert_eq!(
        store
            .insert_group(&bad, &[users[0].clone(), "nope".into()])
            .await,
        Err(StoreError::UnknownMember("nope".into()))
    );
    assert_eq!(store.get_group(org.id, bad.id).await, Ok(None));
    assert!(store
        .user_groups(org.id, users[0].parse().unwrap())
        .await
        .unwrap()
        .is_empty());
}

pub async fn delete_user_removes_memberships(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let gone = user(org.id, "gone@acme.com");
    let stays = user(org.id, "stays@acme.com");
    insert_user(&store, &gone).await;
    insert_user(&store, &stays).await;
    let both = [gone.id.to_string(), stays.id.to_string()];
    let g1 = group(org.id, "One");
    let g2 = group(org.id, "Two");
    store.insert_group(&g1, &both).await.unwrap();
    store.insert_group(&g2, &both).await.unwrap();
    assert_eq!(store.user_groups(org.id, gone.id).await.unwrap().len(), 2);

    store.delete_user(org.id, gone.id).await.unwrap();
    for g in [&g1, &g2] {
        assert_eq!(
            member_ids(&store, org.id, g.id).await,
            vec![stays.id.to_string()]
        );
        // The group itself is untouched.
        assert_eq!(
            store.get_group(org.id, g.id).await.unwrap().as_ref(),
            Some(g)
        );
    }
    assert!(store.user_groups(org.id, gone.id).await.unwrap().is_empty());
    assert_eq!(store.user_groups(org.id, stays.id).await.unwrap().len(), 2);
    // A deleted user cannot be added back.
    let mut g1 = g1;
    assert_eq!(
        change_group(
            &store,
            &mut g1,
            &[MembershipChange::Add(vec![gone.id.to_string()])]
        )
        .await,
        Err(StoreError::UnknownMember(gone.id.to_string()))
    );
}

pub async fn delete_group_removes_memberships(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let u = user(org.id, "u@acme.com");
    insert_user(&store, &u).await;
    let child = group(org.id, "Child");
    store
        .insert_group(&child, &[u.id.to_string()])
        .await
        .unwrap();
    let parent = group(org.id, "Parent");
    store
        .insert_group(&parent, &[child.id.to_string(), u.id.to_string()])
        .await
        .unwrap();

    store.delete_group(org.id, child.id).await.unwrap();
    assert_eq!(store.get_group(org.id, child.id).await, Ok(None));
    assert!(member_ids(&store, org.id, child.id).await.is_empty());
    assert_eq!(
        member_ids(&store, org.id, parent.id).await,
        vec![u.id.to_string()]
    );
    let groups = store.user_groups(org.id, u.id).await.unwrap();
    assert_eq!(groups, vec![(parent.id, "Parent".to_string(), true)]);
    assert_eq!(
        store.delete_group(org.id, child.id).await,
        Err(StoreError::NotFound)
    );
    // The user is untouched.
    assert_eq!(store.get_user(org.id, u.id).await.unwrap(), Some(u));
}

pub async fn group_members_display(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let named = user_with(org.id, "named@acme.com", Some("Named Person"), &[]);
    let plain = user(org.id, "Plain@acme.com");
    insert_user(&store, &named).await;
    insert_user(&store, &plain).await;
    let sub = group(org.id, "Sub Team");
    store.insert_group(&sub, &[]).await.unwrap();
    let g = group(org.id, "Team");
    store
        .insert_group(
            &g,
            &[
                named.id.to_string(),
                plain.id.to_string(),
                sub.id.to_string(),
            ],
        )
        .await
        .unwrap();
    let mut want = vec![
        Member {
            id: named.id.to_string(),
            kind: MemberKind::User,
            display: Some("Named Person".into()),
        },
        Member {
            id: plain.id.to_string(),
            kind: MemberKind::User,
            display: Some("Plain@acme.com".into()),
        },
        Member {
            id: sub.id.to_string(),
            kind: MemberKind::Group,
            display: Some("Sub Team".into()),
        },
    ];
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(store.group_members(org.id, g.id).await.unwrap(), want);

    // The display follows renames.
    let mut plain = plain;
    plain.doc["displayName"] = json!("Plain Person");
    bump_user(&store, &mut plain).await;
    let members = store.group_members(org.id, g.id).await.unwrap();
    let m = members
        .iter()
        .find(|m| m.id == plain.id.to_string())
        .unwrap();
    assert_eq!(m.display.as_deref(), Some("Plain Person"));
    assert!(store
        .group_members(org.id, GroupId::new_random())
        .await
        .unwrap()
        .is_empty());
}

pub async fn user_groups(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let u = user(org.id, "u@acme.com");
    let other = user(org.id, "other@acme.com");
    insert_user(&store, &u).await;
    insert_user(&store, &other).await;
    let mut gamma = group(org.id, "gamma");
    gamma.scim_visible = false;
    gamma.managed_by = ManagedBy::Local;
    let beta = group(org.id, "beta");
    let alpha = group(org.id, "Alpha");
    let unrelated = group(org.id, "Aardvarks");
    for g in [&gamma, &beta, &alpha] {
        store.insert_group(g, &[u.id.to_string()]).await.unwrap();
    }
    store
        .insert_group(&unrelated, &[other.id.to_string()])
        .await
        .unwrap();
    assert_eq!(
        store.user_groups(org.id, u.id).await.unwrap(),
        vec![
            (alpha.id, "Alpha".to_string(), true),
            (beta.id, "beta".to_string(), true),
            (gamma.id, "gamma".to_string(), false),
        ]
    );
    assert!(store
        .user_groups(org.id, UserId::new_random())
        .await
        .unwrap()
        .is_empty());
}

pub async fn scim_only_group_visibility(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let scim = group(org.id, "From Okta");
    let mut local = group(org.id, "Console Only");
    local.managed_by = ManagedBy::Local;
    local.scim_visible = false;
    store.insert_group(&scim, &[]).await.unwrap();
    store.insert_group(&local, &[]).await.unwrap();

    let q = query(None);
    assert_eq!(
        group_ids(&store, org.id, true, &q).await,
        vec![scim.id.to_string()]
    );
    assert_eq!(
        group_ids(&store, org.id, false, &q).await,
        vec![scim.id.to_string(), local.id.to_string()]
    );
    let by_name = query(Some(IndexKey::DisplayNameLower("console only".into())));
    let page = store.query_groups(org.id, true, &by_name).await.unwrap();
    assert_eq!(page.total, 0);
    assert!(page.items.is_empty());
    let page = store.query_groups(org.id, false, &by_name).await.unwrap();
    assert_eq!(page.total, 1);

    // Handed over to the IdP: SCIM sees it from then on.
    let mut local = local;
    local.scim_visible = true;
    change_group(&store, &mut local, &[]).await.unwrap();
    let page = store.query_groups(org.id, true, &q).await.unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(
        ids_of(&page.items, |g| g.id),
        vec![scim.id.to_string(), local.id.to_string()]
    );
    assert!(page.items[1].scim_visible);
    assert_eq!(page.items[1].managed_by, ManagedBy::Local);
}

pub async fn concurrent_member_adds_lose_nothing(store: Arc<dyn Store>) {
    const TASKS: usize = 20;
    const PER_TASK: usize = 10;
    let org = new_org(&store).await;
    let mut batches = Vec::new();
    for t in 0..TASKS {
        let mut batch = Vec::new();
        for i in 0..PER_TASK {
            let u = user(org.id, &format!("u{t}-{i}@acme.com"));
            insert_user(&store, &u).await;
            batch.push(u.id.to_string());
        }
        batches.push(batch);
    }
    let g = group(org.id, "Everyone");
    store.insert_group(&g, &[]).await.unwrap();

    let mut tasks = Vec::new();
    for batch in batches.clone() {
        let store = store.clone();
        let org = org.id;
        let id = g.id;
        tasks.push(tokio::spawn(async move {
            // Read-modify-write, as the SCIM service does, retrying on a lost race.
            for _ in 0..1000 {
                let current = store.get_group(org, id).await.unwrap().unwrap();
                let mut next = current.clone();
                next.version += 1;
                next.doc["meta-touch"] = json!(batch[0]);
                match store
                    .update_group(
                        &next,
                        current.version,
                        &[MembershipChange::Add(batch.clone())],
                    )
                    .await
                {
                    Ok(()) => return,
                    Err(StoreError::VersionMismatch) => tokio::task::yield_now().await,
                    Err(e) => panic!("unexpected error: {e:?}"),
                }
            }
            panic!("gave up after 1000 attempts");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let members = member_ids(&store, org.id, g.id).await;
    let want = sorted(batches.concat());
    assert_eq!(members.len(), TASKS * PER_TASK);
    assert_eq!(members, want);
    let stored = store.get_group(org.id, g.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 1 + TASKS as i64, "one version per write");
}

/// Writes that run at the same moment may share a transaction (SQLite's group commit): a
/// write that is refused, or that fails half-way through its membership changes, must undo
/// all of itself and nothing of the others.
pub async fn refused_writes_leave_concurrent_writes_whole(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let mut people = Vec::new();
    for i in 0..20 {
        let u = user(org.id, &format!("p{i}@acme.com"));
        insert_user(&store, &u).await;
        people.push(u);
    }
    let mut groups = Vec::new();
    for i in 0..10 {
        let g = group(org.id, &format!("Team {i}"));
        store.insert_group(&g, &[]).await.unwrap();
        groups.push(g);
    }
    let mut tasks = Vec::new();
    for (i, u) in people.iter().enumerate() {
        let store = store.clone();
        let (org, id) = (org.id, u.id);
        tasks.push(tokio::spawn(async move {
            let outcome = store
                .modify_user(
                    org,
                    id,
                    Box::new(move |current: &UserRecord| {
                        if i % 2 == 1 {
                            return Err(directory::Error::invalid("refused on purpose"));
                        }
                        let mut next = current.clone();
                        next.doc["displayName"] = json!(format!("Changed {i}"));
                        next.reindex();
                        next.version += 1;
                        Ok(next)
                    }),
                )
                .await
                .map(|_| ());
            (format!("user {i}"), i % 2 == 0, outcome)
        }));
    }
    let unknown = UserId::new_random().to_string();
    for (i, g) in groups.iter().enumerate() {
        let store = store.clone();
        let (org, id) = (org.id, g.id);
        // Even groups: add two people. Odd groups: add one person, then an id that names
        // nobody, which fails the write after its first member went in.
        let mut adds = vec![people[i].id.to_string()];
        adds.push(if i % 2 == 0 {
            people[i + 10].id.to_string()
        } else {
            unknown.clone()
        });
        tasks.push(tokio::spawn(async move {
            let outcome = store
                .modify_group(
                    org,
                    id,
                    Box::new(move |current: &GroupRecord| {
                        let mut next = current.clone();
                        next.doc["displayName"] = json!(format!("Renamed {i}"));
                        next.reindex();
                        next.version += 1;
                        Ok((next, vec![MembershipChange::Add(adds)]))
                    }),
                )
                .await
                .map(|_| ());
            (format!("group {i}"), i % 2 == 0, outcome)
        }));
    }
    for t in tasks {
        let (what, should_pass, outcome) = t.await.unwrap();
        match (should_pass, outcome) {
            (true, Ok(())) => {}
            (false, Err(StoreError::Refused(_) | StoreError::UnknownMember(_))) => {}
            (pass, other) => panic!("{what}: expected success {pass}, got {other:?}"),
        }
    }
    for (i, u) in people.iter().enumerate() {
        let stored = store.get_user(org.id, u.id).await.unwrap().unwrap();
        if i % 2 == 0 {
            assert_eq!(stored.display_name, Some(format!("Changed {i}")));
            assert_eq!(stored.version, u.version + 1);
        } else {
            assert_eq!(stored, *u, "a refused change left user {i} as it was");
        }
    }
    for (i, g) in groups.iter().enumerate() {
        let stored = store.get_group(org.id, g.id).await.unwrap().unwrap();
        let members = member_ids(&store, org.id, g.id).await;
        if i % 2 == 0 {
            assert_eq!(stored.display_name, format!("Renamed {i}"));
            assert_eq!(
                members,
                sorted(vec![
                    people[i].id.to_string(),
                    people[i + 10].id.to_string()
                ])
            );
        } else {
            assert_eq!(stored.display_name, g.display_name, "group {i} not renamed");
            assert_eq!(stored.version, g.version);
            assert!(members.is_empty(), "group {i} kept no half of its change");
        }
    }
}

/// An import walks pages by position (SCIM's startIndex). A store may start the next page
/// where the last one ended, but what it answers must stay what the positions say, also
/// after users are deleted mid-walk.
pub async fn sequential_pages_follow_positions_across_deletes(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let mut ids = Vec::new();
    for i in 0..130 {
        let u = user(org.id, &format!("walk{i}@acme.com"));
        insert_user(&store, &u).await;
        ids.push(u.id.to_string());
        // Another organization's rows interleave and must never show.
        insert_user(&store, &user(other.id, &format!("other{i}@acme.com"))).await;
    }
    let page = |offset: u64| {
        let store = store.clone();
        async move {
            let q = StoreQuery {
                key: None,
                sort: SortKey::Seq,
                descending: false,
                offset,
                limit: Some(20),
            };
            let p = store.query_users(org.id, &q).await.unwrap();
            (p.total, ids_of(&p.items, |u| u.id))
        }
    };
    let walk = |expected: Vec<String>| {
        let page = &page;
        async move {
            let mut seen = Vec::new();
            let mut offset = 0;
            while offset < expected.len() as u64 {
                let (total, items) = page(offset).await;
                assert_eq!(total, expected.len() as u64);
                assert!(!items.is_empty());
                offset += items.len() as u64;
                seen.extend(items);
            }
            assert_eq!(seen, expected);
        }
    };
    walk(ids.clone()).await;
    walk(ids.clone()).await;

    // Deletes before positions already served shift every later page.
    for gone in [5, 64] {
        let id: UserId = ids[gone].parse().unwrap();
        store.delete_user(org.id, id).await.unwrap();
    }
    ids.remove(64);
    ids.remove(5);
    walk(ids.clone()).await;

    // A delete in the middle of a walk: later pages follow the new positions.
    let (_, first) = page(0).await;
    assert_eq!(first, ids[0..20]);
    let (_, second) = page(20).await;
    assert_eq!(second, ids[20..40]);
    let id: UserId = ids[10].parse().unwrap();
    store.delete_user(org.id, id).await.unwrap();
    ids.remove(10);
    let (_, third) = page(40).await;
    assert_eq!(third, ids[40..60]);
    // New users are appended: the last page grows, earlier positions stay.
    let late = user(org.id, "late@acme.com");
    insert_user(&store, &late).await;
    ids.push(late.id.to_string());
    let (_, fourth) = page(60).await;
    assert_eq!(fourth, ids[60..80]);
    walk(ids).await;
}

/// A batch read of users by id: only this organization's, unknown ids left out.
pub async fn users_by_ids_reads_only_the_organizations_users(store: Arc<dyn Store>) {
    let a = new_org(&store).await;
    let b = new_org(&store).await;
    let jane = user_with(a.id, "jane@acme.com", Some("Jane"), &["jane@acme.com"]);
    let joe = user(a.id, "joe@acme.com");
    let theirs = user(b.id, "eve@other.com");
    for u in [&jane, &joe, &theirs] {
        insert_user(&store, u).await;
    }
    let mut found = store
        .users_by_ids(a.id, &[jane.id, theirs.id, UserId::new_random(), joe.id])
        .await
        .unwrap();
    found.sort_by(|x, y| x.user_name.cmp(&y.user_name));
    assert_eq!(found, vec![jane.clone(), joe.clone()]);
    assert_eq!(store.users_by_ids(a.id, &[]).await.unwrap(), vec![]);
    assert_eq!(
        store.users_by_ids(b.id, &[jane.id]).await.unwrap(),
        Vec::<UserRecord>::new()
    );
}

pub async fn organizations_never_see_each_other(store: Arc<dyn Store>) {
    let a = new_org(&store).await;
    let b = new_org(&store).await;
    let a_user = user_with(a.id, "jane@acme.com", Some("Jane"), &["jane@acme.com"]);
    insert_user(&store, &a_user).await;
    let a_group = group(a.id, "Eng");
    store
        .insert_group(&a_group, &[a_user.id.to_string()])
        .await
        .unwrap();
    let a_token = token(a.id, "okta", at(0));
    store.create_token(&a_token).await.unwrap();
    store
        .append_audit(&[audit(a.id, "scim.user.create", Some("x"), 0)])
        .await
        .unwrap();
    // B has the same names: allowed, and separate.
    let b_user = user_with(b.id, "jane@acme.com", Some("Jane"), &["jane@acme.com"]);
    insert_user(&store, &b_user).await;
    let mut b_group = group(b.id, "Eng");
    store.insert_group(&b_group, &[]).await.unwrap();

    // Users.
    assert_eq!(store.get_user(b.id, a_user.id).await, Ok(None));
    let mut hijack = a_user.clone();
    hijack.org_id = b.id;
    hijack.doc["displayName"] = json!("Mallory");
    hijack.version += 1;
    hijack.reindex();
    assert_eq!(
        store.update_user(&hijack, a_user.version).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.delete_user(b.id, a_user.id).await,
        Err(StoreError::NotFound)
    );
    for key in [
        None,
        Some(IndexKey::Id(a_user.id.to_string())),
        Some(IndexKey::UserNameLower("jane@acme.com".into())),
        Some(IndexKey::EmailLower("jane@acme.com".into())),
        Some(IndexKey::DisplayNameLower("jane".into())),
        Some(IndexKey::Active(true)),
    ] {
        let page = store.query_users(b.id, &query(key.clone())).await.unwrap();
        let want = if matches!(key, Some(IndexKey::Id(_))) {
            vec![]
        } else {
            vec![b_user.id.to_string()]
        };
        assert_eq!(ids_of(&page.items, |u| u.id), want, "key {key:?}");
        assert_eq!(page.total, want.len() as u64);
    }
    assert!(store.user_groups(b.id, a_user.id).await.unwrap().is_empty());

    // Groups and memberships.
    assert_eq!(store.get_group(b.id, a_group.id).await, Ok(None));
    assert!(store
        .group_members(b.id, a_group.id)
        .await
        .unwrap()
        .is_empty());
    let mut hijack = a_group.clone();
    hijack.org_id = b.id;
    hijack.version += 1;
    assert_eq!(
        store
            .update_group(&hijack, a_group.version, &[MembershipChange::RemoveAll])
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.delete_group(b.id, a_group.id).await,
        Err(StoreError::NotFound)
    );
    for foreign in [a_user.id.to_string(), a_group.id.to_string()] {
        assert_eq!(
            change_group(
                &store,
                &mut b_group,
                &[MembershipChange::Add(vec![foreign.clone()])]
            )
            .await,
            Err(StoreError::UnknownMember(foreign))
        );
    }
    assert_eq!(
        store
            .insert_group(&group(b.id, "Sneaky"), &[a_user.id.to_string()])
            .await,
        Err(StoreError::UnknownMember(a_user.id.to_string()))
    );
    for scim_only in [true, false] {
        let ids = group_ids(&store, b.id, scim_only, &query(None)).await;
        assert_eq!(ids, vec![b_group.id.to_string()]);
        let ids = group_ids(
            &store,
            b.id,
            scim_only,
            &query(Some(IndexKey::Id(a_group.id.to_string()))),
        )
        .await;
        assert!(ids.is_empty());
    }

    // Tokens and audit.
    assert!(store.list_tokens(b.id).await.unwrap().is_empty());
    assert_eq!(
        store.revoke_token(b.id, a_token.id, at(1)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store
            .set_token_domains(b.id, a_token.id, &DomainList::parse(&["*"]).unwrap())
            .await,
        Err(StoreError::NotFound)
    );
    store.touch_token(b.id, a_token.id, at(5)).await.unwrap();
    assert!(store
        .list_audit(
            b.id,
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            }
        )
        .await
        .unwrap()
        .is_empty());

    // A is exactly as it was.
    assert_eq!(
        store.get_user(a.id, a_user.id).await.unwrap(),
        Some(a_user.clone())
    );
    assert_eq!(
        store.get_group(a.id, a_group.id).await.unwrap(),
        Some(a_group.clone())
    );
    assert_eq!(
        member_ids(&store, a.id, a_group.id).await,
        vec![a_user.id.to_string()]
    );
    assert_eq!(store.list_tokens(a.id).await.unwrap(), vec![a_token]);
}

/// Identical folded events (organization + fold key within the window) are one row whose
/// `repeated` counts them; another key, another organization or a later window gets its own.
pub async fn audit_folded_events_count_into_one_row(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let refusal = |org: OrgId, at_ms: i64| AuditEvent {
        status: 400,
        detail: Some("not_base64: the SAMLResponse is not base64 (from 192.0.2.1)".into()),
        ..audit(org, "saml.signin", None, at_ms)
    };
    let folded = |org: OrgId, key: &str, at_ms: i64, count: u64| FoldedAuditEvent {
        event: refusal(org, at_ms),
        fold_key: key.into(),
        count,
        window_start: at(at_ms) - Duration::minutes(10),
    };
    // One call folding into itself, then later calls folding into that row.
    store
        .append_audit_folded(&[
            folded(org.id, "bad 192.0.2.1", 0, 1),
            folded(org.id, "bad 192.0.2.1", 10, 1),
        ])
        .await
        .unwrap();
    for i in 0..50 {
        store
            .append_audit_folded(&[folded(org.id, "bad 192.0.2.1", 20 + i, 1)])
            .await
            .unwrap();
    }
    // A count of several at once (the rate limiter's report).
    store
        .append_audit_folded(&[folded(org.id, "bad 192.0.2.1", 100, 40)])
        .await
        .unwrap();
    // Other keys and the other organization are rows of their own; an unfolded event between
    // does not stop the fold.
    store
        .append_audit(&[audit(org.id, "scim.user.create", Some("u1"), 110)])
        .await
        .unwrap();
    store
        .append_audit_folded(&[
            folded(org.id, "bad 192.0.2.2", 120, 1),
            folded(other.id, "bad 192.0.2.1", 130, 1),
            folded(org.id, "bad 192.0.2.1", 140, 1),
        ])
        .await
        .unwrap();
    // Past the window of the first row: a new row.
    let late = 11 * 60 * 1000;
    store
        .append_audit_folded(&[folded(org.id, "bad 192.0.2.1", late, 1)])
        .await
        .unwrap();

    let all = store
        .list_audit(
            org.id,
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let summary: Vec<(String, u64, Option<OffsetDateTime>)> = all
        .iter()
        .map(|e| (e.event.operation.clone(), e.repeated, e.last_at))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("saml.signin".to_string(), 1, None),
            ("saml.signin".to_string(), 1, None),
            ("scim.user.create".to_string(), 1, None),
            (
                "saml.signin".to_string(),
                1 + 1 + 50 + 40 + 1,
                Some(at(140))
            ),
        ]
    );
    // The folded row keeps its first occurrence as it was written (its request id aside,
    // which the fixture draws at random).
    assert_eq!(
        AuditEvent {
            request_id: None,
            ..all[3].event.clone()
        },
        AuditEvent {
            request_id: None,
            ..refusal(org.id, 0)
        }
    );
    assert_eq!(all[0].event.at, at(late));
    let theirs = store
        .list_audit(
            other.id,
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].repeated, 1);
    // A first occurrence that already stands for several says when the last was.
    store
        .append_audit_folded(&[folded(other.id, "throttled 192.0.2.9", 200, 7)])
        .await
        .unwrap();
    let theirs = store
        .list_audit(
            other.id,
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(theirs.len(), 2);
    assert_eq!((theirs[0].repeated, theirs[0].last_at), (7, Some(at(200))));
    store.append_audit_folded(&[]).await.unwrap();
}

pub async fn audit_append_and_list(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let events = vec![
        audit(org.id, "scim.user.create", Some("u1"), 1),
        audit(org.id, "scim.user.update", Some("u1"), 2),
        audit(org.id, "token.create", None, 3),
        audit(org.id, "scim.group.create", Some("g1"), 4),
        AuditEvent {
            actor_kind: "scim_token".into(),
            actor_id: Some(TokenId::new_random().to_string()),
            status: 409,
            detail: Some("userName taken".into()),
            request_id: None,
            ..audit(org.id, "scim.user.create", Some("u2"), 5)
        },
    ];
    store.append_audit(&events).await.unwrap();
    store
        .append_audit(&[audit(other.id, "scim.user.create", Some("u1"), 6)])
        .await
        .unwrap();
    store.append_audit(&[]).await.unwrap();

    let all = store
        .list_audit(
            org.id,
            &AuditQuery {
                limit: 100,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    // Newest first, positions strictly decreasing, every field back as written.
    let mut want = events.clone();
    want.reverse();
    assert_eq!(
        all.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        want
    );
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq));

    let list = |q: AuditQuery| {
        let store = store.clone();
        async move { store.list_audit(org.id, &q).await.unwrap() }
    };
    let ops = |v: &[directory::store::StoredAuditEvent]| -> Vec<String> {
        v.iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e.event.operation,
                    e.event.resource_id.clone().unwrap_or_default()
                )
            })
            .collect()
    };
    let users = list(AuditQuery {
        operation_prefix: Some("scim.user.".into()),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(
        ops(&users),
        vec![
            "scim.user.create:u2",
            "scim.user.update:u1",
            "scim.user.create:u1"
        ]
    );
    // A prefix is literal: '_' and '%' are no wildcards.
    let none = list(AuditQuery {
        operation_prefix: Some("scim_user".into()),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert!(none.is_empty());
    let u1 = list(AuditQuery {
        resource_id: Some("u1".into()),
        limit: 100,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(ops(&u1), vec!["scim.user.update:u1", "scim.user.create:u1"]);

    // Paging backwards by position.
    let first = list(AuditQuery {
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(first, all[..2].to_vec());
    let next = list(AuditQuery {
        before_seq: Some(first[1].seq),
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(next, all[2..4].to_vec());
    let last = list(AuditQuery {
        before_seq: Some(next[1].seq),
        limit: 2,
        ..AuditQuery::default()
    })
    .await;
    assert_eq!(last, all[4..].to_vec());
}

// ---------------------------------------------------------------------------------------------
// SAML connections, login domains, AuthnRequests, the replay cache, sessions.

fn random_client_id() -> String {
    Uuid::new_v4().simple().to_string()[..24].to_string()
}

fn saml_connection(org: OrgId) -> SamlConnection {
    SamlConnection {
        org_id: org,
        client_id: random_client_id(),
        idp_metadata_xml: None,
        idp_entity_id: None,
        idp_metadata_uploaded_at: None,
        sp_key_pem: "-----BEGIN PRIVATE KEY-----\nk\n-----END PRIVATE KEY-----\n".into(),
        sp_cert_pem: "-----BEGIN CERTIFICATE-----\nc\n-----END CERTIFICATE-----\n".into(),
        jit: false,
        idp_initiated: true,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn unique_domain() -> String {
    format!("d{}.example", Uuid::new_v4().simple())
}

pub async fn audit_filters_combine_and_page_both_ways(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let token = TokenId::new_random().to_string();
    let by_token = |op: &str, res: &str, status: u16, at_ms: i64| AuditEvent {
        actor_kind: "scim_token".into(),
        actor_id: Some(token.clone()),
        status,
        ..audit(org.id, op, Some(res), at_ms)
    };
    let events = vec![
        by_token("scim.user.create", "u1", 201, 10),
        by_token("scim.user.create", "u2", 400, 20),
        AuditEvent {
            actor_kind: "saml_idp".into(),
            actor_id: Some("http://idp.example.com".into()),
            ..audit(org.id, "saml.signin", Some("u1"), 30)
        },
        by_token("scim.group.create", "g1", 201, 40),
        AuditEvent {
            actor_kind: "saml_idp".into(),
            actor_id: Some("http://idp.example.com".into()),
            status: 403,
            ..audit(org.id, "saml.signin", Some("u2"), 50)
        },
        audit(org.id, "token.create", None, 60),
        by_token("scim.user.update", "u1", 200, 70),
    ];
    store.append_audit(&events).await.unwrap();
    // The other organization's events match every filter below and must never show.
    store
        .append_audit(&[AuditEvent {
            actor_kind: "scim_token".into(),
            actor_id: Some(token.clone()),
            status: 400,
            ..audit(other.id, "scim.user.create", Some("u1"), 15)
        }])
        .await
        .unwrap();

    let list = |q: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .list_audit(org.id, &AuditQuery { limit: 100, ..q })
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.event.operation, e.event.resource_id.unwrap_or_default()))
                .collect::<Vec<_>>()
        }
    };
    let pairs = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(o, r)| (o.to_string(), r.to_string()))
            .collect::<Vec<_>>()
    };

    assert_eq!(
        list(AuditQuery {
            actor_kind: Some("scim_token".into()),
            actor_id: Some(token.clone()),
            ..AuditQuery::default()
        })
        .await,
        pairs(&[
            ("scim.user.update", "u1"),
            ("scim.group.create", "g1"),
            ("scim.user.create", "u2"),
            ("scim.user.create", "u1"),
        ])
    );
    assert!(list(AuditQuery {
        actor_kind: Some("scim_token".into()),
        actor_id: Some(TokenId::new_random().to_string()),
        ..AuditQuery::default()
    })
    .await
    .is_empty());
    assert_eq!(
        list(AuditQuery {
            actor_kind: Some("saml_idp".into()),
            ..AuditQuery::default()
        })
        .await,
        pairs(&[("saml.signin", "u2"), ("saml.signin", "u1")])
    );
    assert_eq!(
        list(AuditQuery {
            outcome: Some(AuditOutcome::Refused),
            ..AuditQuery::default()
        })
        .await,
        pairs(&[("saml.signin", "u2"), ("scim.user.create", "u2")])
    );
    assert_eq!(
        list(AuditQuery {
            outcome: Some(AuditOutcome::Succeeded),
            resource_id: Some("u1".into()),
            ..AuditQuery::default()
        })
        .await,
        pairs(&[
            ("scim.user.update", "u1"),
            ("saml.signin", "u1"),
            ("scim.user.create", "u1"),
        ])
    );
    assert_eq!(
        list(AuditQuery {
            resource_type: Some("User".into()),
            operation_prefix: Some("scim.".into()),
            ..AuditQuery::default()
        })
        .await,
        pairs(&[
            ("scim.user.update", "u1"),
            ("scim.group.create", "g1"),
            ("scim.user.create", "u2"),
            ("scim.user.create", "u1"),
        ])
    );
    // since is inclusive, until exclusive.
    assert_eq!(
        list(AuditQuery {
            since: Some(at(20)),
            until: Some(at(50)),
            ..AuditQuery::default()
        })
        .await,
        pairs(&[
            ("scim.group.create", "g1"),
            ("saml.signin", "u1"),
            ("scim.user.create", "u2"),
        ])
    );

    // Pages of two, backwards and then forwards again, with a filter on: each page newest first.
    let page = |before: Option<i64>, after: Option<i64>| {
        let store = store.clone();
        async move {
            store
                .list_audit(
                    org.id,
                    &AuditQuery {
                        operation_prefix: Some("scim.".into()),
                        before_seq: before,
                        after_seq: after,
                        limit: 2,
                        ..AuditQuery::default()
                    },
                )
                .await
                .unwrap()
        }
    };
    let ops = |v: &[directory::store::StoredAuditEvent]| {
        v.iter()
            .map(|e| e.event.resource_id.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let first = page(None, None).await;
    assert_eq!(ops(&first), ["u1", "g1"]);
    let second = page(Some(first[1].seq), None).await;
    assert_eq!(ops(&second), ["u2", "u1"]);
    assert!(page(Some(second[1].seq), None).await.is_empty());
    let back = page(None, Some(second[0].seq)).await;
    assert_eq!(back, first);
    // A short forward page near the newest end is still newest first.
    let newest = page(None, Some(first[1].seq)).await;
    assert_eq!(ops(&newest), ["u1"]);
    assert_eq!(newest[0].seq, first[0].seq);
}

pub async fn last_audit_event_by_prefix_and_outcome(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    for prefix in ["scim.", "saml.signin"] {
        for ok in [false, true] {
            assert_eq!(store.last_audit_event(org.id, prefix, ok).await, Ok(None));
        }
    }
    let with_status = |op: &str, status: u16, t: i64| AuditEvent {
        status,
        ..audit(org.id, op, None, t)
    };
    let events = vec![
        with_status("scim.user.create", 201, 1),
        with_status("saml.signin", 403, 2),
        with_status("scim.user.patch", 400, 3),
        with_status("saml.signin", 200, 4),
        with_status("token.create", 200, 5),
        with_status("saml.signin", 403, 6),
        // Neighbours of the prefixes' ranges: never theirs.
        with_status("scimx.user.create", 201, 7),
        with_status("scim/", 201, 8),
        with_status("saml.signim", 201, 9),
    ];
    store.append_audit(&events).await.unwrap();
    store
        .append_audit(&[audit(other.id, "scim.group.delete", None, 10)])
        .await
        .unwrap();

    let last = |prefix: &'static str, ok: bool| {
        let store = store.clone();
        async move {
            store
                .last_audit_event(org.id, prefix, ok)
                .await
                .unwrap()
                .map(|e| e.event)
        }
    };
    assert_eq!(last("scim.", false).await, Some(events[2].clone()));
    assert_eq!(last("scim.", true).await, Some(events[0].clone()));
    assert_eq!(last("saml.signin", false).await, Some(events[5].clone()));
    assert_eq!(last("saml.signin", true).await, Some(events[3].clone()));
    assert_eq!(last("token.", true).await, Some(events[4].clone()));
    assert_eq!(
        last("scim.user.create", false).await,
        Some(events[0].clone())
    );
    assert_eq!(last("nothing.", false).await, None);
    // Each organization sees its own.
    assert_eq!(
        store
            .last_audit_event(other.id, "scim.", false)
            .await
            .unwrap()
            .map(|e| e.event.operation),
        Some("scim.group.delete".into())
    );
    // The position is the log's.
    let listed = store
        .list_audit(
            org.id,
            &AuditQuery {
                operation_prefix: Some("saml.signin".into()),
                limit: 1,
                ..AuditQuery::default()
            },
        )
        .await
        .unwrap();
    let newest = store
        .last_audit_event(org.id, "saml.signin", false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newest.seq, listed[0].seq);
    assert!(store.last_audit_event(org.id, "", false).await.is_err());
}

/// "Succeeded" is one definition: a status below 400. A redirecting sign-in (302) succeeded,
/// for the list's outcome filter and for the newest successful event alike; 400 is refused.
pub async fn succeeded_is_below_400_in_the_list_and_the_newest_event_alike(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let with_status = |status: u16, t: i64| AuditEvent {
        status,
        ..audit(org.id, "saml.signin", Some("u1"), t)
    };
    let events = vec![
        with_status(200, 1),
        with_status(302, 2),
        with_status(399, 3),
        with_status(400, 4),
    ];
    store.append_audit(&events).await.unwrap();
    let statuses = |outcome: AuditOutcome| {
        let store = store.clone();
        async move {
            store
                .list_audit(
                    org.id,
                    &AuditQuery {
                        outcome: Some(outcome),
                        limit: 10,
                        ..AuditQuery::default()
                    },
                )
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.event.status)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(statuses(AuditOutcome::Succeeded).await, vec![399, 302, 200]);
    assert_eq!(statuses(AuditOutcome::Refused).await, vec![400]);
    let newest_success = store
        .last_audit_event(org.id, "saml.signin", true)
        .await
        .unwrap()
        .map(|e| e.event);
    assert_eq!(newest_success, Some(events[2].clone()));

    // The newest success a redirect: the last-event lookup takes it too.
    store
        .append_audit(&[with_status(302, 5), with_status(500, 6)])
        .await
        .unwrap();
    let newest_success = store
        .last_audit_event(org.id, "saml.signin", true)
        .await
        .unwrap()
        .map(|e| e.event.status);
    assert_eq!(newest_success, Some(302));
}

pub async fn saml_connection_put_get_replace(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    assert_eq!(store.saml_connection(org.id).await.unwrap(), None);
    let d = unique_domain();
    let mut conn = saml_connection(org.id);
    store.put_saml_connection(&conn).await.unwrap();
    assert_eq!(
        store.saml_connection(org.id).await.unwrap(),
        Some(conn.clone())
    );
    assert_eq!(
        store
            .saml_connection_by_client_id(&conn.client_id)
            .await
            .unwrap(),
        Some(conn.clone())
    );
    assert_eq!(
        store
            .saml_connection_by_client_id("nosuchclientid000000000a")
            .await
            .unwrap(),
        None
    );

    // Replace: metadata uploaded, settings changed; still one connection, same Client ID.
    conn.idp_metadata_xml = Some("<md:EntityDescriptor/>".into());
    conn.idp_entity_id = Some("http://www.okta.com/exk1".into());
    conn.idp_metadata_uploaded_at = Some(at(5));
    conn.jit = true;
    conn.idp_initiated = false;
    conn.updated_at = at(10);
    store.put_saml_connection(&conn).await.unwrap();
    assert_eq!(
        store.saml_connection(org.id).await.unwrap(),
        Some(conn.clone())
    );
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), None);

    // What the IdP was told stays: a put with another Client ID or key pair keeps the first.
    let mut racing = saml_connection(org.id);
    racing.sp_key_pem = "other key".into();
    racing.sp_cert_pem = "other cert".into();
    racing.created_at = at(7);
    racing.updated_at = at(11);
    store.put_saml_connection(&racing).await.unwrap();
    let kept = store.saml_connection(org.id).await.unwrap().unwrap();
    assert_eq!(
        (
            &kept.client_id,
            &kept.sp_key_pem,
            &kept.sp_cert_pem,
            kept.created_at
        ),
        (
            &conn.client_id,
            &conn.sp_key_pem,
            &conn.sp_cert_pem,
            conn.created_at
        )
    );
    assert_eq!(kept.updated_at, at(11));
    assert_eq!(
        store
            .saml_connection_by_client_id(&racing.client_id)
            .await
            .unwrap(),
        None
    );
    store.put_saml_connection(&conn).await.unwrap();

    // A Client ID names one connection.
    let other = new_org(&store).await;
    let mut clash = saml_connection(other.id);
    clash.client_id = conn.client_id.clone();
    assert!(matches!(
        store.put_saml_connection(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.saml_connection(other.id).await.unwrap(), None);
}

fn claim(org: OrgId, domain: &str) -> DomainClaim {
    DomainClaim {
        org_id: org,
        domain: domain.to_string(),
        verification_value: Uuid::new_v4().simple().to_string(),
        proof: None,
        verified_at: None,
        last_checked_at: None,
        failed_checks: 0,
        note: None,
        created_at: at(0),
        verified_elsewhere: false,
    }
}

async fn claim_of(store: &Arc<dyn Store>, org: OrgId, domain: &str) -> DomainClaim {
    store
        .login_domain_claims(org)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.domain == domain)
        .unwrap_or_else(|| panic!("no claim on {domain}"))
}

pub async fn login_domain_claims_route_only_when_verified(store: Arc<dyn Store>) {
    let (a, b) = (new_org(&store).await, new_org(&store).await);
    let (d1, d2, d3) = (unique_domain(), unique_domain(), unique_domain());
    let mut wanted = vec![claim(a.id, &d1), claim(a.id, &d2)];
    wanted.sort_by(|x, y| x.domain.cmp(&y.domain));
    let (added, removed) = store
        .replace_login_domain_claims(a.id, &wanted)
        .await
        .unwrap();
    let mut names = vec![d1.clone(), d2.clone()];
    names.sort();
    assert_eq!((added, removed), (names, vec![]));
    assert_eq!(store.login_domain_claims(a.id).await.unwrap(), wanted);
    // Claimed, not proved: nobody is routed.
    assert_eq!(store.org_for_login_domain(&d1).await.unwrap(), None);

    let displaced = store
        .verify_login_domain(a.id, &d1, DomainProof::Operator, at(5), "lost")
        .await
        .unwrap();
    assert!(displaced.is_empty());
    assert_eq!(store.org_for_login_domain(&d1).await.unwrap(), Some(a.id));
    let verified = claim_of(&store, a.id, &d1).await;
    assert_eq!(verified.proof, Some(DomainProof::Operator));
    assert_eq!(verified.verified_at, Some(at(5)));
    assert_eq!(
        verified.verification_value,
        wanted
            .iter()
            .find(|c| c.domain == d1)
            .unwrap()
            .verification_value
    );

    // Replacing keeps a claim that stays listed as it is stored (fresh values are ignored),
    // adds new ones and deletes the unlisted.
    let (added, removed) = store
        .replace_login_domain_claims(a.id, &[claim(a.id, &d1), claim(a.id, &d3)])
        .await
        .unwrap();
    assert_eq!((added, removed), (vec![d3.clone()], vec![d2.clone()]));
    assert_eq!(claim_of(&store, a.id, &d1).await, verified);
    assert_eq!(store.org_for_login_domain(&d1).await.unwrap(), Some(a.id));
    assert!(store
        .add_login_domain_claim(&claim(a.id, &d2))
        .await
        .unwrap());
    assert!(!store
        .add_login_domain_claim(&claim(a.id, &d2))
        .await
        .unwrap());

    // Verifying a domain the organization does not claim is refused; nothing changes.
    assert_eq!(
        store
            .verify_login_domain(b.id, &d1, DomainProof::Operator, at(6), "lost")
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.org_for_login_domain(&d1).await.unwrap(), Some(a.id));

    // Releasing the verified claim stops the routing.
    store.replace_login_domain_claims(a.id, &[]).await.unwrap();
    assert!(store.login_domain_claims(a.id).await.unwrap().is_empty());
    assert_eq!(store.org_for_login_domain(&d1).await.unwrap(), None);

    // An operator withdraws a verification: the claim stays, routing nobody.
    store
        .add_login_domain_claim(&claim(b.id, &d1))
        .await
        .unwrap();
    store
        .verify_login_domain(b.id, &d1, DomainProof::Dns, at(7), "lost")
        .await
        .unwrap();
    assert!(store
        .unverify_login_domain(b.id, &d1, "revoked")
        .await
        .unwrap());
    assert!(!store
        .unverify_login_domain(b.id, &d1, "revoked")
        .await
        .unwrap());
    assert_eq!(
        store.unverify_login_domain(a.id, &d1, "revoked").await,
        Err(StoreError::NotFound)
    );
    let revoked = claim_of(&store, b.id, &d1).await;
    assert_eq!(
        (revoked.proof, revoked.note.as_deref()),
        (None, Some("revoked"))
    );
    assert_eq!(store.org_for_login_domain(&d1).await.unwrap(), None);
}

pub async fn one_verified_claim_per_domain(store: Arc<dyn Store>) {
    let (a, b) = (new_org(&store).await, new_org(&store).await);
    let d = unique_domain();
    // Several organizations may claim one domain while none has proved it.
    store
        .add_login_domain_claim(&claim(a.id, &d))
        .await
        .unwrap();
    store
        .add_login_domain_claim(&claim(b.id, &d))
        .await
        .unwrap();
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), None);

    store
        .verify_login_domain(a.id, &d, DomainProof::Dns, at(1), "taken by dns")
        .await
        .unwrap();
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), Some(a.id));
    assert!(claim_of(&store, b.id, &d).await.verified_elsewhere);
    assert!(!claim_of(&store, a.id, &d).await.verified_elsewhere);

    // A DNS proof takes the domain from a DNS-verified claim; the loser is told why.
    let displaced = store
        .verify_login_domain(b.id, &d, DomainProof::Dns, at(2), "taken by dns")
        .await
        .unwrap();
    assert_eq!(displaced, vec![a.id]);
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), Some(b.id));
    let lost = claim_of(&store, a.id, &d).await;
    assert_eq!(
        (
            lost.proof,
            lost.verified_at,
            lost.note.as_deref(),
            lost.verified_elsewhere
        ),
        (None, None, Some("taken by dns"), true)
    );

    // An operator takes it from anyone…
    let displaced = store
        .verify_login_domain(a.id, &d, DomainProof::Operator, at(3), "taken by operator")
        .await
        .unwrap();
    assert_eq!(displaced, vec![b.id]);
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), Some(a.id));
    // …and a DNS proof does not take what an operator decided.
    assert_eq!(
        store
            .verify_login_domain(b.id, &d, DomainProof::Dns, at(4), "x")
            .await,
        Err(StoreError::Conflict(format!("domain {d}")))
    );
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), Some(a.id));
    assert_eq!(
        claim_of(&store, b.id, &d).await.note.as_deref(),
        Some("taken by operator")
    );

    // Concurrent proofs of one domain: exactly one claim ends verified.
    let c = new_org(&store).await;
    let e = unique_domain();
    store
        .add_login_domain_claim(&claim(b.id, &e))
        .await
        .unwrap();
    store
        .add_login_domain_claim(&claim(c.id, &e))
        .await
        .unwrap();
    let (rb, rc) = tokio::join!(
        store.verify_login_domain(b.id, &e, DomainProof::Dns, at(5), "x"),
        store.verify_login_domain(c.id, &e, DomainProof::Dns, at(5), "x"),
    );
    assert!(rb.is_ok() && rc.is_ok(), "{rb:?} {rc:?}");
    let mut verified = 0;
    for o in [b.id, c.id] {
        if claim_of(&store, o, &e).await.is_verified() {
            verified += 1;
        }
    }
    assert_eq!(verified, 1);
}

pub async fn login_domain_checks_lapse_after_consecutive_failures(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let (d, approved) = (unique_domain(), unique_domain());
    store
        .add_login_domain_claim(&claim(org.id, &d))
        .await
        .unwrap();
    store
        .add_login_domain_claim(&claim(org.id, &approved))
        .await
        .unwrap();
    store
        .verify_login_domain(org.id, &d, DomainProof::Dns, at(10), "x")
        .await
        .unwrap();
    store
        .verify_login_domain(org.id, &approved, DomainProof::Operator, at(10), "x")
        .await
        .unwrap();

    // Only DNS-verified claims are re-checked, once their last check is old enough.
    let due = |before| {
        let store = store.clone();
        async move {
            store
                .login_domains_due_for_check(before, 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|c| c.org_id == org.id)
                .map(|c| c.domain)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(due(at(10)).await, Vec::<String>::new());
    assert_eq!(due(at(11)).await, vec![d.clone()]);

    // One missing record is not enough; a present one resets the count.
    let after = store
        .record_login_domain_check(org.id, &d, at(20), Some("gone"), 3)
        .await
        .unwrap();
    assert_eq!((after.failed_checks, after.is_verified()), (1, true));
    assert_eq!(after.last_checked_at, Some(at(20)));
    // No answer: the time and the note change, the count does not.
    store
        .record_login_domain_unanswered(org.id, &d, at(25), "timed out")
        .await
        .unwrap();
    let unanswered = claim_of(&store, org.id, &d).await;
    assert_eq!(
        (
            unanswered.failed_checks,
            unanswered.is_verified(),
            unanswered.last_checked_at,
            unanswered.note.as_deref()
        ),
        (1, true, Some(at(25)), Some("timed out"))
    );
    assert_eq!(
        store
            .record_login_domain_unanswered(org.id, &unique_domain(), at(25), "x")
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(due(at(20)).await, Vec::<String>::new());
    let after = store
        .record_login_domain_check(org.id, &d, at(30), None, 3)
        .await
        .unwrap();
    assert_eq!((after.failed_checks, after.note.as_deref()), (0, None));
    for (i, t) in [40, 50].into_iter().enumerate() {
        let after = store
            .record_login_domain_check(org.id, &d, at(t), Some("gone"), 3)
            .await
            .unwrap();
        assert_eq!(
            (after.failed_checks, after.is_verified()),
            (i as u32 + 1, true)
        );
    }
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), Some(org.id));
    // The third in a row: the claim lapses and stops routing.
    let after = store
        .record_login_domain_check(org.id, &d, at(60), Some("gone for good"), 3)
        .await
        .unwrap();
    assert_eq!(
        (
            after.is_verified(),
            after.verified_at,
            after.note.as_deref()
        ),
        (false, None, Some("gone for good"))
    );
    assert_eq!(store.org_for_login_domain(&d).await.unwrap(), None);
    assert_eq!(due(at(1000)).await, Vec::<String>::new());

    // Failures never lapse an operator's approval.
    for t in [70, 80, 90, 100] {
        store
            .record_login_domain_check(org.id, &approved, at(t), Some("no record"), 3)
            .await
            .unwrap();
    }
    assert!(claim_of(&store, org.id, &approved).await.is_verified());
    assert_eq!(
        store
            .record_login_domain_check(org.id, &unique_domain(), at(1), None, 3)
            .await,
        Err(StoreError::NotFound)
    );
}

pub async fn authn_requests_are_single_use_and_expire(store: Arc<dyn Store>) {
    let (org, other) = (new_org(&store).await, new_org(&store).await);
    let now = now_ms();
    let later = now + Duration::minutes(10);
    store
        .remember_authn_request(org.id, "id-1", "/app", later)
        .await
        .unwrap();
    // Another organization cannot take it.
    assert_eq!(
        store
            .take_authn_request(other.id, "id-1", now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.take_authn_request(org.id, "id-1", now).await.unwrap(),
        Some("/app".into())
    );
    assert_eq!(
        store.take_authn_request(org.id, "id-1", now).await.unwrap(),
        None
    );

    // Expired: None, and gone.
    store
        .remember_authn_request(org.id, "id-2", "/x", now + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_authn_request(org.id, "id-2", now + Duration::seconds(2))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.take_authn_request(org.id, "id-2", now).await.unwrap(),
        None
    );

    // Concurrent takes: exactly one wins.
    store
        .remember_authn_request(org.id, "id-3", "/y", later)
        .await
        .unwrap();
    let takes = futures::future::join_all((0..8).map(|_| {
        let store = store.clone();
        async move { store.take_authn_request(org.id, "id-3", now).await.unwrap() }
    }))
    .await;
    assert_eq!(takes.iter().filter(|t| t.is_some()).count(), 1);
}

pub async fn assertion_replay_cache(store: Arc<dyn Store>) {
    let (org, other) = (new_org(&store).await, new_org(&store).await);
    let now = now_ms();
    let until = now + Duration::minutes(5);
    assert!(store
        .remember_assertion(org.id, "_a1", until, now)
        .await
        .unwrap());
    assert!(!store
        .remember_assertion(org.id, "_a1", until, now)
        .await
        .unwrap());
    // Scoped by organization.
    assert!(store
        .remember_assertion(other.id, "_a1", until, now)
        .await
        .unwrap());
    // After it expires, the entry is purged and the ID is new again.
    let after = until + Duration::seconds(1);
    assert!(store
        .remember_assertion(org.id, "_a1", after + Duration::minutes(5), after)
        .await
        .unwrap());
    // Concurrent: exactly one first sight.
    let firsts = futures::future::join_all((0..8).map(|_| {
        let store = store.clone();
        async move {
            store
                .remember_assertion(org.id, "_a2", until, now)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(firsts.iter().filter(|f| **f).count(), 1);
}

pub async fn sessions_create_touch_delete(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let (u1, u2) = (UserId::new_random(), UserId::new_random());
    let session = |user: UserId, n: i64| SessionRecord {
        id_hash: format!("{:064x}", Uuid::new_v4().as_u128() + n as u128),
        org_id: org.id,
        user_id: user,
        created_at: at(0),
        last_seen_at: at(0),
        idle_expires_at: at(1_000),
        absolute_expires_at: at(5_000),
    };
    let (s1, s2, s3) = (session(u1, 1), session(u1, 2), session(u2, 3));
    for s in [&s1, &s2, &s3] {
        store.create_session(s).await.unwrap();
    }
    assert_eq!(
        store.session_by_hash(&s1.id_hash).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(store.session_by_hash("nope").await.unwrap(), None);

    store
        .touch_session(&s1.id_hash, at(500), at(1_500))
        .await
        .unwrap();
    let touched = store.session_by_hash(&s1.id_hash).await.unwrap().unwrap();
    assert_eq!(
        (touched.last_seen_at, touched.idle_expires_at),
        (at(500), at(1_500))
    );
    // An older touch never moves expiry back.
    store
        .touch_session(&s1.id_hash, at(400), at(1_400))
        .await
        .unwrap();
    let same = store.session_by_hash(&s1.id_hash).await.unwrap().unwrap();
    assert_eq!(
        (same.last_seen_at, same.idle_expires_at),
        (at(500), at(1_500))
    );
    assert_eq!(
        store.touch_session("gone", at(1), at(2)).await,
        Err(StoreError::NotFound)
    );

    store.delete_session(&s2.id_hash).await.unwrap();
    assert_eq!(store.session_by_hash(&s2.id_hash).await.unwrap(), None);
    store.delete_session(&s2.id_hash).await.unwrap();

    // Ending a user's sessions leaves other users' alone; another org's id removes nothing.
    let other = new_org(&store).await;
    assert_eq!(store.delete_user_sessions(other.id, u1).await.unwrap(), 0);
    store.create_session(&s2).await.unwrap();
    assert_eq!(store.delete_user_sessions(org.id, u1).await.unwrap(), 2);
    assert_eq!(store.session_by_hash(&s1.id_hash).await.unwrap(), None);
    assert_eq!(store.session_by_hash(&s3.id_hash).await.unwrap(), Some(s3));
}

// ---------------------------------------------------------------------------------------------
// Console administrators, invites, console sessions, the sign-in throttle.

fn admin(org: OrgId, email: &str) -> AdminAccount {
    AdminAccount {
        id: AdminId::new_random(),
        org_id: org,
        email: email.into(),
        password_hash: None,
        created_at: at(0),
        last_sign_in_at: None,
        user_id: None,
    }
}

pub async fn console_admins_unique_per_org_and_scoped(store: Arc<dyn Store>) {
    let (org, other) = (new_org(&store).await, new_org(&store).await);
    let a = admin(org.id, "it@acme.com");
    store.create_admin(&a).await.unwrap();
    assert_eq!(
        store.create_admin(&admin(org.id, "it@acme.com")).await,
        Err(StoreError::Conflict("email".into()))
    );
    // The same email in another organization is another admin.
    let b = admin(other.id, "it@acme.com");
    store.create_admin(&b).await.unwrap();

    assert_eq!(
        store.admin_by_email(org.id, "it@acme.com").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.admin_by_id(org.id, a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.admin_by_id(other.id, a.id).await.unwrap(), None);
    assert_eq!(
        store
            .admin_by_email(org.id, "nobody@acme.com")
            .await
            .unwrap(),
        None
    );

    // Writes through another organization's id touch nothing.
    assert_eq!(
        store
            .set_admin_password(other.id, a.id, "$argon2id$x")
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.record_admin_sign_in(other.id, a.id, at(5)).await,
        Err(StoreError::NotFound)
    );
    store
        .set_admin_password(org.id, a.id, "$argon2id$x")
        .await
        .unwrap();
    store
        .record_admin_sign_in(org.id, a.id, at(5))
        .await
        .unwrap();
    let got = store.admin_by_id(org.id, a.id).await.unwrap().unwrap();
    assert_eq!(got.password_hash.as_deref(), Some("$argon2id$x"));
    assert_eq!(got.last_sign_in_at, Some(at(5)));
    assert_eq!(
        store
            .admin_by_id(other.id, b.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        None
    );
}

pub async fn console_invites_single_use_and_expire(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let now = now_ms();
    let invite = |n: u128, expires: OffsetDateTime| AdminInvite {
        token_hash: format!("{:064x}", Uuid::new_v4().as_u128() ^ n),
        org_id: org.id,
        email: "it@acme.com".into(),
        created_at: now,
        expires_at: expires,
        used_at: None,
    };
    let live = invite(1, now + Duration::days(7));
    store.create_admin_invite(&live).await.unwrap();
    assert_eq!(
        store.admin_invite_by_hash(&live.token_hash).await.unwrap(),
        Some(live.clone())
    );
    let taken = store
        .take_admin_invite(&live.token_hash, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.used_at, Some(now));
    assert_eq!(
        (taken.org_id, taken.email.as_str()),
        (org.id, "it@acme.com")
    );
    assert_eq!(
        store
            .take_admin_invite(&live.token_hash, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.take_admin_invite("unknown", now).await.unwrap(), None);
    assert_eq!(
        store
            .admin_invite_by_hash(&live.token_hash)
            .await
            .unwrap()
            .and_then(|i| i.used_at),
        Some(now)
    );
    assert_eq!(store.admin_invite_by_hash("unknown").await.unwrap(), None);

    // Expired: nothing, and it stays unusable.
    let old = invite(2, now + Duration::seconds(1));
    store.create_admin_invite(&old).await.unwrap();
    assert_eq!(
        store
            .take_admin_invite(&old.token_hash, now + Duration::seconds(1))
            .await
            .unwrap(),
        None
    );

    // Concurrent takes: exactly one wins.
    let race = invite(3, now + Duration::days(7));
    store.create_admin_invite(&race).await.unwrap();
    let takes = futures::future::join_all((0..8).map(|_| {
        let store = store.clone();
        let hash = race.token_hash.clone();
        async move { store.take_admin_invite(&hash, now).await.unwrap() }
    }))
    .await;
    assert_eq!(takes.iter().filter(|t| t.is_some()).count(), 1);
}

pub async fn console_sessions_create_touch_delete(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let (a1, a2) = (AdminId::new_random(), AdminId::new_random());
    let session = |admin: AdminId, n: u128| ConsoleSession {
        id_hash: format!("{:064x}", Uuid::new_v4().as_u128() ^ n),
        org_id: org.id,
        admin_id: admin,
        csrf_token: format!("csrf-{n}"),
        created_at: at(0),
        last_seen_at: at(0),
        idle_expires_at: at(1_000),
        absolute_expires_at: at(5_000),
        sso_user_id: None,
    };
    let (s1, s2, s3) = (session(a1, 1), session(a1, 2), session(a2, 3));
    for s in [&s1, &s2, &s3] {
        store.create_console_session(s).await.unwrap();
    }
    assert_eq!(
        store.console_session_by_hash(&s1.id_hash).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(store.console_session_by_hash("nope").await.unwrap(), None);

    store
        .touch_console_session(&s1.id_hash, at(500), at(1_500))
        .await
        .unwrap();
    // An older touch never moves expiry back.
    store
        .touch_console_session(&s1.id_hash, at(400), at(1_400))
        .await
        .unwrap();
    let touched = store
        .console_session_by_hash(&s1.id_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (touched.last_seen_at, touched.idle_expires_at),
        (at(500), at(1_500))
    );
    assert_eq!(
        store.touch_console_session("gone", at(1), at(2)).await,
        Err(StoreError::NotFound)
    );

    store.delete_console_session(&s2.id_hash).await.unwrap();
    assert_eq!(
        store.console_session_by_hash(&s2.id_hash).await.unwrap(),
        None
    );
    store.delete_console_session(&s2.id_hash).await.unwrap();

    // Ending an admin's sessions leaves other admins' alone; another org's id removes nothing.
    let other = new_org(&store).await;
    assert_eq!(
        store
            .delete_admin_console_sessions(other.id, a1)
            .await
            .unwrap(),
        0
    );
    store.create_console_session(&s2).await.unwrap();
    assert_eq!(
        store
            .delete_admin_console_sessions(org.id, a1)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.console_session_by_hash(&s1.id_hash).await.unwrap(),
        None
    );
    assert_eq!(
        store.console_session_by_hash(&s3.id_hash).await.unwrap(),
        Some(s3)
    );
}

fn sign_in_limit(key: &str, limit: u32) -> directory::store::SignInLimit {
    directory::store::SignInLimit {
        key: key.to_string(),
        limit,
    }
}

/// The attempts counted under `key` within `window` of `at`, learnt through the calls the
/// product makes: the smallest limit a reservation at `at` fits under is one more than the
/// count, and the one reservation that fits is released again. Forgets (as any reservation
/// does) the key's attempts older than the window.
pub async fn counted_sign_in_attempts(
    store: &dyn Store,
    key: &str,
    at: OffsetDateTime,
    window: Duration,
) -> u32 {
    use directory::store::SignInReservation::Allowed;
    for counted in 0..=u32::from(u16::MAX) {
        let limit = [sign_in_limit(key, counted + 1)];
        if store
            .reserve_sign_in_attempt(&limit, at, window)
            .await
            .unwrap()
            == Allowed
        {
            store.release_sign_in_attempt(key, at).await.unwrap();
            return counted;
        }
    }
    panic!("more than {} attempts counted under {key}", u16::MAX)
}

pub async fn sign_in_failures_counted_in_window(store: Arc<dyn Store>) {
    use directory::store::SignInReservation::{Allowed, Throttled};
    let key = format!("email:{}:it@acme.com", Uuid::new_v4());
    let other = format!("ip:{}", Uuid::new_v4());
    let window = Duration::minutes(15);
    let now = now_ms();
    let both = [sign_in_limit(&key, 3), sign_in_limit(&other, 5)];
    assert_eq!(
        counted_sign_in_attempts(&*store, &key, now, window).await,
        0
    );
    // Each reservation counts under both keys, until the smaller limit is reached.
    for n in 1..=3u32 {
        let t = now + Duration::seconds(i64::from(n));
        assert_eq!(
            store
                .reserve_sign_in_attempt(&both, t, window)
                .await
                .unwrap(),
            Allowed
        );
        assert_eq!(counted_sign_in_attempts(&*store, &key, t, window).await, n);
        assert_eq!(
            counted_sign_in_attempts(&*store, &other, t, window).await,
            n
        );
    }
    // Full: refused, naming the full key, and nothing is counted under either.
    let t = now + Duration::seconds(10);
    assert_eq!(
        store
            .reserve_sign_in_attempt(&both, t, window)
            .await
            .unwrap(),
        Throttled { full: 0 }
    );
    assert_eq!(counted_sign_in_attempts(&*store, &key, t, window).await, 3);
    assert_eq!(
        counted_sign_in_attempts(&*store, &other, t, window).await,
        3
    );
    // The other key alone still has room; the second of a list can be the full one.
    assert_eq!(
        store
            .reserve_sign_in_attempt(&[sign_in_limit(&other, 5)], t, window)
            .await
            .unwrap(),
        Allowed
    );
    let fresh = format!("email:{}:x@acme.com", Uuid::new_v4());
    assert_eq!(
        store
            .reserve_sign_in_attempt(
                &[sign_in_limit(&fresh, 5), sign_in_limit(&other, 4)],
                t,
                window
            )
            .await
            .unwrap(),
        Throttled { full: 1 }
    );
    assert_eq!(
        counted_sign_in_attempts(&*store, &fresh, t, window).await,
        0
    );
    // An empty list is always allowed and counts nothing.
    assert_eq!(
        store.reserve_sign_in_attempt(&[], t, window).await.unwrap(),
        Allowed
    );

    // Releasing gives back one attempt, the one made at that instant.
    store
        .release_sign_in_attempt(&other, now + Duration::seconds(2))
        .await
        .unwrap();
    assert_eq!(
        counted_sign_in_attempts(&*store, &other, t, window).await,
        3
    );
    store
        .release_sign_in_attempt(&other, now + Duration::seconds(2))
        .await
        .unwrap();
    assert_eq!(
        counted_sign_in_attempts(&*store, &other, t, window).await,
        3
    );

    // Past the window the old attempts no longer count, and room is made again.
    let later = now + Duration::minutes(16);
    assert_eq!(
        counted_sign_in_attempts(&*store, &key, later, window).await,
        0
    );
    assert_eq!(
        store
            .reserve_sign_in_attempt(&[sign_in_limit(&key, 3)], later, window)
            .await
            .unwrap(),
        Allowed
    );
    assert_eq!(
        counted_sign_in_attempts(&*store, &key, later, window).await,
        1
    );

    store.clear_failed_sign_ins(&key).await.unwrap();
    assert_eq!(
        counted_sign_in_attempts(&*store, &key, later, window).await,
        0
    );
    assert_eq!(
        counted_sign_in_attempts(&*store, &other, t, window).await,
        3
    );
}

/// A burst of reservations (as from many nodes at once) never counts past a limit: exactly
/// `limit` of them are allowed, under every key of the list.
pub async fn concurrent_sign_in_reservations_never_pass_the_limit(store: Arc<dyn Store>) {
    use directory::store::SignInReservation::Allowed;
    let window = Duration::minutes(15);
    let now = now_ms();
    let email = format!("email:{}:it@acme.com", Uuid::new_v4());
    let address = format!("ip:{}", Uuid::new_v4());
    let burst = futures::future::join_all((0..30).map(|i| {
        let store = store.clone();
        // Half the burst from one address, half from others: the email's limit binds all.
        let limits = vec![
            sign_in_limit(&email, 5),
            sign_in_limit(
                &if i % 2 == 0 {
                    address.clone()
                } else {
                    format!("ip:{}", Uuid::new_v4())
                },
                20,
            ),
        ];
        async move {
            store
                .reserve_sign_in_attempt(&limits, now, window)
                .await
                .unwrap()
        }
    }))
    .await;
    let allowed = burst.iter().filter(|r| **r == Allowed).count();
    assert_eq!(allowed, 5, "{burst:?}");
    assert_eq!(
        counted_sign_in_attempts(&*store, &email, now, window).await,
        5
    );
    assert!(counted_sign_in_attempts(&*store, &address, now, window).await <= 5);

    // One address against many emails: its limit binds.
    let address = format!("ip:{}", Uuid::new_v4());
    let burst = futures::future::join_all((0..40).map(|_| {
        let store = store.clone();
        let limits = vec![
            sign_in_limit(&format!("email:{}:x@acme.com", Uuid::new_v4()), 5),
            sign_in_limit(&address, 20),
        ];
        async move {
            store
                .reserve_sign_in_attempt(&limits, now, window)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(burst.iter().filter(|r| **r == Allowed).count(), 20);
    assert_eq!(
        counted_sign_in_attempts(&*store, &address, now, window).await,
        20
    );
}

// ---------------------------------------------------------------------------------------------
// Console admins page and admin roles.

pub async fn console_admins_list_link_delete(store: Arc<dyn Store>) {
    let (org, other) = (new_org(&store).await, new_org(&store).await);
    let mut a = admin(org.id, "a@acme.com");
    let mut b = admin(org.id, "b@acme.com");
    b.created_at = at(10);
    store.create_admin(&b).await.unwrap();
    store.create_admin(&a).await.unwrap();
    store
        .create_admin(&admin(other.id, "x@other.com"))
        .await
        .unwrap();
    assert_eq!(
        store.list_admins(org.id).await.unwrap(),
        vec![a.clone(), b.clone()],
        "oldest first, this organization only"
    );

    // Linking to a directory user; one admin per user; another org's id changes nothing.
    let u = UserId::new_random();
    store.link_admin_user(org.id, a.id, u).await.unwrap();
    a.user_id = Some(u);
    assert_eq!(
        store.admin_by_user(org.id, u).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.admin_by_user(other.id, u).await.unwrap(), None);
    assert_eq!(
        store.link_admin_user(org.id, b.id, u).await,
        Err(StoreError::Conflict("user".into()))
    );
    assert_eq!(
        store
            .link_admin_user(other.id, b.id, UserId::new_random())
            .await,
        Err(StoreError::NotFound)
    );
    let mut made = admin(org.id, "sso@acme.com");
    made.user_id = Some(UserId::new_random());
    store.create_admin(&made).await.unwrap();
    assert_eq!(
        store.admin_by_id(org.id, made.id).await.unwrap(),
        Some(made.clone())
    );

    // Deleting an admin takes their sessions and pending invitations with them.
    let session = ConsoleSession {
        id_hash: format!("{:064x}", Uuid::new_v4().as_u128()),
        org_id: org.id,
        admin_id: b.id,
        csrf_token: "csrf".into(),
        created_at: at(0),
        last_seen_at: at(0),
        idle_expires_at: at(1_000),
        absolute_expires_at: at(5_000),
        sso_user_id: None,
    };
    store.create_console_session(&session).await.unwrap();
    let invite = AdminInvite {
        token_hash: format!("{:064x}", Uuid::new_v4().as_u128()),
        org_id: org.id,
        email: b.email.clone(),
        created_at: at(0),
        expires_at: at(100_000),
        used_at: None,
    };
    store.create_admin_invite(&invite).await.unwrap();
    assert_eq!(
        store.delete_admin(other.id, b.id).await,
        Err(StoreError::NotFound)
    );
    store.delete_admin(org.id, b.id).await.unwrap();
    assert_eq!(store.admin_by_id(org.id, b.id).await.unwrap(), None);
    assert_eq!(
        store
            .console_session_by_hash(&session.id_hash)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_admin_invite(&invite.token_hash, at(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.delete_admin(org.id, b.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(store.list_admins(org.id).await.unwrap(), vec![a, made]);
}

pub async fn console_admin_roles_group_and_grants(store: Arc<dyn Store>) {
    let (org, other) = (new_org(&store).await, new_org(&store).await);
    let member = user(org.id, "member@acme.com");
    let local = user(org.id, "local@acme.com");
    let outsider = user(org.id, "outsider@acme.com");
    let mut inactive = user(org.id, "gone@acme.com");
    inactive.doc["active"] = json!(false);
    inactive.reindex();
    assert!(!inactive.active);
    for u in [&member, &local, &outsider, &inactive] {
        store.insert_user(u).await.unwrap();
    }
    let admins = group(org.id, "IT-Admins");
    let nested = group(org.id, "Nested");
    store
        .insert_group(&nested, &[outsider.id.to_string()])
        .await
        .unwrap();
    store
        .insert_group(
            &admins,
            &[
                member.id.to_string(),
                inactive.id.to_string(),
                nested.id.to_string(),
            ],
        )
        .await
        .unwrap();

    // No group, no grants: nobody.
    assert_eq!(store.admin_group(org.id).await.unwrap(), None);
    assert!(!store.holds_admin_role(org.id, member.id).await.unwrap());

    store
        .set_admin_group(org.id, Some(admins.id), at(1))
        .await
        .unwrap();
    assert_eq!(store.admin_group(org.id).await.unwrap(), Some(admins.id));
    assert_eq!(store.admin_group(other.id).await.unwrap(), None);
    assert!(store.holds_admin_role(org.id, member.id).await.unwrap());
    // Direct members only, active only, this organization only.
    assert!(!store.holds_admin_role(org.id, outsider.id).await.unwrap());
    assert!(!store.holds_admin_role(org.id, inactive.id).await.unwrap());
    assert!(!store.holds_admin_role(other.id, member.id).await.unwrap());
    assert!(!store
        .holds_admin_role(org.id, UserId::new_random())
        .await
        .unwrap());

    // Grants: idempotent, listed oldest first, revoked once.
    store
        .grant_admin_role(org.id, local.id, at(5))
        .await
        .unwrap();
    store
        .grant_admin_role(org.id, local.id, at(6))
        .await
        .unwrap();
    store
        .grant_admin_role(org.id, inactive.id, at(7))
        .await
        .unwrap();
    assert_eq!(
        store.admin_role_users(org.id).await.unwrap(),
        vec![local.id, inactive.id]
    );
    assert!(store.admin_role_users(other.id).await.unwrap().is_empty());
    assert!(store.holds_admin_role(org.id, local.id).await.unwrap());
    assert!(!store.holds_admin_role(org.id, inactive.id).await.unwrap());
    assert!(!store.revoke_admin_role(other.id, local.id).await.unwrap());
    assert!(store.revoke_admin_role(org.id, local.id).await.unwrap());
    assert!(!store.revoke_admin_role(org.id, local.id).await.unwrap());
    assert!(!store.holds_admin_role(org.id, local.id).await.unwrap());

    // Leaving the group ends the role; so does clearing the group.
    let changes = vec![MembershipChange::Remove(vec![member.id.to_string()])];
    let mut g = store.get_group(org.id, admins.id).await.unwrap().unwrap();
    g.version += 1;
    store
        .update_group(&g, admins.version, &changes)
        .await
        .unwrap();
    assert!(!store.holds_admin_role(org.id, member.id).await.unwrap());
    let again = vec![MembershipChange::Add(vec![member.id.to_string()])];
    g.version += 1;
    store.update_group(&g, g.version - 1, &again).await.unwrap();
    assert!(store.holds_admin_role(org.id, member.id).await.unwrap());
    store.set_admin_group(org.id, None, at(9)).await.unwrap();
    assert_eq!(store.admin_group(org.id).await.unwrap(), None);
    assert!(!store.holds_admin_role(org.id, member.id).await.unwrap());
    // Choosing another group replaces the first.
    store
        .set_admin_group(org.id, Some(nested.id), at(10))
        .await
        .unwrap();
    store
        .set_admin_group(org.id, Some(admins.id), at(11))
        .await
        .unwrap();
    assert_eq!(store.admin_group(org.id).await.unwrap(), Some(admins.id));
}

pub async fn console_sso_sessions_end_by_user(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let (u1, u2) = (UserId::new_random(), UserId::new_random());
    let a = AdminId::new_random();
    let session = |sso: Option<UserId>| ConsoleSession {
        id_hash: format!("{:064x}", Uuid::new_v4().as_u128()),
        org_id: org.id,
        admin_id: a,
        csrf_token: "csrf".into(),
        created_at: at(0),
        last_seen_at: at(0),
        idle_expires_at: at(1_000),
        absolute_expires_at: at(5_000),
        sso_user_id: sso,
    };
    let (s1, s2, s3) = (session(Some(u1)), session(Some(u2)), session(None));
    for s in [&s1, &s2, &s3] {
        store.create_console_session(s).await.unwrap();
    }
    assert_eq!(
        store.console_session_by_hash(&s1.id_hash).await.unwrap(),
        Some(s1.clone())
    );
    let other = new_org(&store).await;
    assert_eq!(
        store
            .delete_user_console_sessions(other.id, u1)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_user_console_sessions(org.id, u1)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.console_session_by_hash(&s1.id_hash).await.unwrap(),
        None
    );
    assert_eq!(
        store.console_session_by_hash(&s2.id_hash).await.unwrap(),
        Some(s2)
    );
    assert_eq!(
        store.console_session_by_hash(&s3.id_hash).await.unwrap(),
        Some(s3)
    );
}

// The console's keyset pages of groups and members.

pub async fn list_groups_after_pages_by_name_with_prefix(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let names = ["beta", "Alpha", "alpha", "Alphabet", "gamma", "ÄÖ", "al%_x"];
    let mut inserted = Vec::new();
    for n in names {
        let mut g = group(org.id, n);
        if n == "gamma" {
            // Local and invisible to SCIM: the console lists it all the same.
            g.managed_by = ManagedBy::Local;
            g.scim_visible = false;
        }
        store.insert_group(&g, &[]).await.unwrap();
        inserted.push(g);
    }
    store
        .insert_group(&group(other.id, "alpha"), &[])
        .await
        .unwrap();

    // Walk every group two at a time: (lower-cased name, id) order, each exactly once.
    let mut expected: Vec<(String, GroupId)> = inserted
        .iter()
        .map(|g| (g.display_name.to_lowercase(), g.id))
        .collect();
    expected.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));
    let mut seen: Vec<(String, GroupId)> = Vec::new();
    let mut after: Option<(String, GroupId)> = None;
    loop {
        let page = store
            .list_groups_after(org.id, None, after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        if page.is_empty() {
            break;
        }
        for g in &page {
            assert_eq!(g.org_id, org.id);
            seen.push((g.display_name.to_lowercase(), g.id));
        }
        let last = page.last().unwrap();
        after = Some((last.display_name.to_lowercase(), last.id));
    }
    // Names sort by bytes in both stores; ties (alpha, Alpha) by id in each store's order.
    let names_seen: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    let names_expected: Vec<&str> = expected.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names_seen, names_expected);
    let mut ids: Vec<GroupId> = seen.iter().map(|s| s.1).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), names.len());

    // A prefix is a prefix of the lower-cased name: not a pattern, not a substring.
    let alpha = store
        .list_groups_after(org.id, Some("alpha"), None, 10)
        .await
        .unwrap();
    let mut got: Vec<String> = alpha.iter().map(|g| g.display_name.clone()).collect();
    got.sort();
    assert_eq!(got, ["Alpha", "Alphabet", "alpha"]);
    let pattern = store
        .list_groups_after(org.id, Some("al%"), None, 10)
        .await
        .unwrap();
    assert_eq!(pattern.len(), 1);
    assert_eq!(pattern[0].display_name, "al%_x");
    let umlaut = store
        .list_groups_after(org.id, Some("äö"), None, 10)
        .await
        .unwrap();
    assert_eq!(umlaut.len(), 1);
    assert!(store
        .list_groups_after(org.id, Some("zzz"), None, 10)
        .await
        .unwrap()
        .is_empty());
    // Prefix and cursor together: the page after the first "alpha…".
    let first = &alpha[0];
    let rest = store
        .list_groups_after(
            org.id,
            Some("alpha"),
            Some(&(first.display_name.to_lowercase(), first.id)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert!(rest.iter().all(|g| g.id != first.id));
}

pub async fn group_members_among_finds_only_members(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let (inside, outside) = (user(org.id, "in@acme.com"), user(org.id, "out@acme.com"));
    store.insert_user(&inside).await.unwrap();
    store.insert_user(&outside).await.unwrap();
    let nested = group(org.id, "nested");
    store.insert_group(&nested, &[]).await.unwrap();
    let g = group(org.id, "probed");
    let members = [inside.id.to_string(), nested.id.to_string()];
    store.insert_group(&g, &members).await.unwrap();

    let asked = [
        inside.id.to_string(),
        outside.id.to_string(),
        nested.id.to_string(),
        "not-a-member-id".to_string(),
        UserId::new_random().to_string(),
    ];
    let found = store
        .group_members_among(org.id, g.id, &asked)
        .await
        .unwrap();
    let mut ids: Vec<&str> = found.iter().map(|m| m.id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = vec![members[0].as_str(), members[1].as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected, "exactly the members among the ids asked");
    let n = found.iter().find(|m| m.id == members[1]).unwrap();
    assert_eq!(
        (n.kind, n.display.as_deref()),
        (MemberKind::Group, Some("nested"))
    );
    let u = found.iter().find(|m| m.id == members[0]).unwrap();
    assert_eq!(
        (u.kind, u.display.as_deref()),
        (MemberKind::User, Some("in@acme.com"))
    );
    assert!(store
        .group_members_among(org.id, g.id, &[])
        .await
        .unwrap()
        .is_empty());
    // Another organization's view of the group, an unknown group: nobody.
    assert!(store
        .group_members_among(other.id, g.id, &asked)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .group_members_among(org.id, GroupId::new_random(), &asked)
        .await
        .unwrap()
        .is_empty());
}

pub async fn group_members_after_pages_by_member_id(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let mut members = Vec::new();
    for i in 0..7 {
        let u = user(org.id, &format!("member{i}@acme.com"));
        store.insert_user(&u).await.unwrap();
        members.push(u.id.to_string());
    }
    let nested = group(org.id, "nested");
    store.insert_group(&nested, &[]).await.unwrap();
    members.push(nested.id.to_string());
    let g = group(org.id, "big");
    store.insert_group(&g, &members).await.unwrap();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .group_members_after(org.id, g.id, after.as_deref(), 3)
            .await
            .unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        after = page.last().map(|m| m.id.clone());
        seen.extend(page);
    }
    let ids: Vec<String> = seen.iter().map(|m| m.id.clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "member-id order, each once");
    let mut expected = members.clone();
    expected.sort();
    assert_eq!(ids, expected);
    let n = seen.iter().find(|m| m.id == nested.id.to_string()).unwrap();
    assert_eq!(n.kind, MemberKind::Group);
    assert_eq!(n.display.as_deref(), Some("nested"));
    let u = seen.iter().find(|m| m.id == members[0]).unwrap();
    assert_eq!(u.kind, MemberKind::User);
    assert_eq!(u.display.as_deref(), Some("member0@acme.com"));

    // Another organization, an unknown group: no members.
    assert!(store
        .group_members_after(other.id, g.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .group_members_after(org.id, GroupId::new_random(), None, 10)
        .await
        .unwrap()
        .is_empty());
    // After the last member: nothing.
    assert!(store
        .group_members_after(org.id, g.id, Some(&expected[expected.len() - 1]), 10)
        .await
        .unwrap()
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// The console's user list and a user's sessions.

async fn page_names(store: &Arc<dyn Store>, org: OrgId, q: &UserListQuery) -> Vec<String> {
    let rows = store.list_users_page(org, q).await.unwrap().rows;
    let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seqs, sorted, "a page is ascending by seq, without repeats");
    rows.into_iter().map(|r| r.1.user_name).collect()
}

pub async fn console_user_pages_filter_search_and_keyset(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    // u0..u9: even ones local, every third deactivated; u3 has a display name and an email
    // that a search finds.
    for i in 0..10 {
        let mut u = if i == 3 {
            user_with(org.id, "u3", Some("Zed Quux"), &["zq@Acme.com"])
        } else {
            user(org.id, &format!("u{i}"))
        };
        if i % 2 == 0 {
            u.managed_by = ManagedBy::Local;
        }
        if i % 3 == 0 {
            u.doc["active"] = json!(false);
            u.reindex();
        }
        insert_user(&store, &u).await;
    }
    insert_user(&store, &user(other.id, "u1-other")).await;

    let all = UserListQuery {
        limit: 100,
        ..Default::default()
    };
    let names: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    assert_eq!(page_names(&store, org.id, &all).await, names);

    // Keyset pages: forward with after_seq, backward with before_seq.
    let rows = store
        .list_users_page(
            org.id,
            &UserListQuery {
                limit: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .rows;
    assert_eq!(rows.len(), 4);
    let after = rows[3].0;
    let next = UserListQuery {
        after_seq: Some(after),
        limit: 4,
        ..Default::default()
    };
    assert_eq!(
        page_names(&store, org.id, &next).await,
        ["u4", "u5", "u6", "u7"]
    );
    let back = UserListQuery {
        before_seq: Some(rows[3].0),
        limit: 2,
        ..Default::default()
    };
    assert_eq!(page_names(&store, org.id, &back).await, ["u1", "u2"]);

    // Filters, alone and together.
    let q = |active: Option<bool>, managed_by: Option<ManagedBy>| UserListQuery {
        active,
        managed_by,
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        page_names(&store, org.id, &q(Some(false), None)).await,
        ["u0", "u3", "u6", "u9"]
    );
    assert_eq!(
        page_names(&store, org.id, &q(None, Some(ManagedBy::Local))).await,
        ["u0", "u2", "u4", "u6", "u8"]
    );
    assert_eq!(
        page_names(&store, org.id, &q(Some(true), Some(ManagedBy::Scim))).await,
        ["u1", "u5", "u7"]
    );

    // Prefix search on userName, displayName and email; with filters and a cursor.
    let search = |p: &str| UserListQuery {
        prefix: Some(p.into()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(page_names(&store, org.id, &search("u1")).await, ["u1"]);
    assert_eq!(page_names(&store, org.id, &search("zed")).await, ["u3"]);
    assert_eq!(page_names(&store, org.id, &search("zq@acme")).await, ["u3"]);
    assert!(page_names(&store, org.id, &search("nobody"))
        .await
        .is_empty());
    assert!(page_names(&store, org.id, &search("%")).await.is_empty());
    assert_eq!(page_names(&store, org.id, &search("u")).await.len(), 10);
    let mut s = search("u");
    s.active = Some(false);
    s.managed_by = Some(ManagedBy::Local);
    assert_eq!(page_names(&store, org.id, &s).await, ["u0", "u6"]);
    s.after_seq = Some(rows[0].0);
    assert_eq!(page_names(&store, org.id, &s).await, ["u6"]);

    // The other organization sees only its own.
    assert_eq!(page_names(&store, other.id, &all).await, ["u1-other"]);
    assert!(page_names(&store, other.id, &search("u3")).await.is_empty());
}

pub async fn user_sessions_newest_first_and_scoped(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let (u1, u2) = (UserId::new_random(), UserId::new_random());
    let session = |org: OrgId, user: UserId, created: i64| SessionRecord {
        id_hash: format!("{:064x}", Uuid::new_v4().as_u128()),
        org_id: org,
        user_id: user,
        created_at: at(created),
        last_seen_at: at(created),
        idle_expires_at: at(created + 1_000),
        absolute_expires_at: at(created + 5_000),
    };
    let older = session(org.id, u1, 0);
    let newer = session(org.id, u1, 100);
    let theirs = session(org.id, u2, 50);
    let elsewhere = session(other.id, u1, 70);
    for s in [&older, &newer, &theirs, &elsewhere] {
        store.create_session(s).await.unwrap();
    }
    assert_eq!(
        store.user_sessions(org.id, u1).await.unwrap(),
        vec![newer.clone(), older.clone()]
    );
    assert_eq!(
        store.user_sessions(other.id, u1).await.unwrap(),
        vec![elsewhere]
    );
    assert_eq!(store.delete_user_sessions(org.id, u1).await.unwrap(), 2);
    assert!(store.user_sessions(org.id, u1).await.unwrap().is_empty());
    assert_eq!(store.user_sessions(org.id, u2).await.unwrap(), vec![theirs]);
}

/// A prefix matching thousands of users takes the backend's other path (walking seq order);
/// the page is the same as the narrow path would give.
pub async fn console_user_pages_broad_search(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let mut tasks = Vec::new();
    for chunk in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (chunk * 250)..(chunk * 250 + 250) {
                let mut u = user(org.id, &format!("b{i:05}"));
                if i % 3 == 0 {
                    u.doc["active"] = json!(false);
                    u.reindex();
                }
                store.insert_user(&u).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = UserListQuery {
        prefix: Some("b".into()),
        limit: 3000,
        ..Default::default()
    };
    let rows = store.list_users_page(org.id, &all).await.unwrap().rows;
    assert_eq!(rows.len(), 2500);
    let mut q = UserListQuery {
        prefix: Some("b0".into()),
        active: Some(false),
        after_seq: Some(rows[99].0),
        limit: 5,
        ..Default::default()
    };
    let want: Vec<String> = rows[100..]
        .iter()
        .filter(|(_, u)| !u.active)
        .take(5)
        .map(|(_, u)| u.user_name.clone())
        .collect();
    assert_eq!(page_names(&store, org.id, &q).await, want);
    q.after_seq = None;
    q.before_seq = Some(rows[2000].0);
    let want: Vec<String> = rows[..2000]
        .iter()
        .filter(|(_, u)| !u.active)
        .map(|(_, u)| u.user_name.clone())
        .collect::<Vec<_>>()
        .split_off(want_len(&rows[..2000]) - 5);
    assert_eq!(page_names(&store, org.id, &q).await, want);
}

fn want_len(rows: &[(i64, UserRecord)]) -> usize {
    rows.iter().filter(|(_, u)| !u.active).count()
}

/// A broad search with a scan bound examines at most `scan_limit` users per page; a page that
/// stops at the bound says where (`searched_to`), and continuing from there, forward or
/// backward, visits every match exactly once and in order, even where the matches sit behind
/// more than `scan_limit` users that do not match.
pub async fn console_user_broad_search_bounded_scan(store: Arc<dyn Store>) {
    const SCAN: u32 = 40;
    const LIMIT: u32 = 8;
    let org = new_org(&store).await;
    let mut k = 0i32;
    let mut make = |name: String| {
        let mut u = user(org.id, &name);
        if k % 3 == 0 {
            u.doc["active"] = json!(false);
            u.reindex();
        }
        k += 1;
        u
    };
    // In seq order: 150 users that do not match (50 of them deactivated), a stretch where every 6th matches, 2,000 that
    // match (enough for the broad path), 50 that do not, 3 that match, 50 that do not.
    let mut phases: Vec<Vec<UserRecord>> = vec![
        (0..150).map(|i| make(format!("n-a{i:03}"))).collect(),
        (0..60)
            .map(|i| {
                make(if i % 6 == 0 {
                    format!("s-a{i:03}")
                } else {
                    format!("n-b{i:03}")
                })
            })
            .collect(),
        (0..2000).map(|i| make(format!("s-bulk{i:04}"))).collect(),
        (0..50).map(|i| make(format!("n-c{i:03}"))).collect(),
        (0..3).map(|i| make(format!("s-c{i:03}"))).collect(),
        (0..50).map(|i| make(format!("n-d{i:03}"))).collect(),
    ];
    let bulk = phases.remove(2);
    for u in phases[..2].iter().flatten() {
        insert_user(&store, u).await;
    }
    let mut tasks = Vec::new();
    for chunk in bulk.chunks(200) {
        let (store, chunk) = (store.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for u in &chunk {
                store.insert_user(u).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for u in phases[2..].iter().flatten() {
        insert_user(&store, u).await;
    }

    let everyone = store
        .list_users_page(
            org.id,
            &UserListQuery {
                limit: 10_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(everyone.rows.len(), 2313);
    assert_eq!(everyone.searched_to, None);
    let last_seq = everyone.rows[everyone.rows.len() - 1].0;

    for active in [None, Some(false)] {
        let want: Vec<(i64, String)> = everyone
            .rows
            .iter()
            .filter(|(_, u)| u.user_name.starts_with('s'))
            .filter(|(_, u)| active.is_none_or(|a| u.active == a))
            .map(|(seq, u)| (*seq, u.user_name.clone()))
            .collect();
        let base = UserListQuery {
            prefix: Some("s".into()),
            active,
            limit: LIMIT,
            scan_limit: Some(SCAN),
            ..Default::default()
        };

        // Without a bound the first page is simply the first matches.
        let unbounded = store
            .list_users_page(
                org.id,
                &UserListQuery {
                    scan_limit: None,
                    ..base.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(unbounded.searched_to, None);
        assert_eq!(unbounded.rows.len(), LIMIT as usize);

        // The first page looks at 40 users, all before any match: empty, but not the end.
        let first = store.list_users_page(org.id, &base).await.unwrap();
        assert!(first.rows.is_empty(), "{active:?}");
        assert!(first.searched_to.is_some(), "{active:?}");

        // Forward.
        let (mut got, mut cursor, mut partial_pages) = (Vec::new(), None, 0);
        for _ in 0..10_000 {
            let q = UserListQuery {
                after_seq: cursor,
                ..base.clone()
            };
            let page = store.list_users_page(org.id, &q).await.unwrap();
            assert!(page.rows.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(page.rows.iter().all(|r| cursor.is_none_or(|c| r.0 > c)));
            got.extend(page.rows.iter().map(|(s, u)| (*s, u.user_name.clone())));
            if page.rows.len() == LIMIT as usize {
                assert_eq!(page.searched_to, None);
                cursor = page.rows.last().map(|r| r.0);
            } else if let Some(h) = page.searched_to {
                assert!(page.rows.iter().all(|r| r.0 <= h));
                assert!(cursor.is_none_or(|c| h > c));
                partial_pages += 1;
                cursor = Some(h);
            } else {
                cursor = None;
                break;
            }
        }
        assert_eq!(cursor, None, "the forward walk ended");
        assert_eq!(got, want, "forward, active {active:?}");
        assert!(partial_pages >= 1, "{partial_pages}");

        // Backward, from past the end.
        let (mut got, mut cursor, mut partial_pages) = (Vec::new(), Some(last_seq + 1), 0);
        for _ in 0..10_000 {
            let q = UserListQuery {
                before_seq: cursor,
                ..base.clone()
            };
            let page = store.list_users_page(org.id, &q).await.unwrap();
            assert!(page.rows.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(page.rows.iter().all(|r| cursor.is_some_and(|c| r.0 < c)));
            let mut rows: Vec<(i64, String)> = page
                .rows
                .iter()
                .map(|(s, u)| (*s, u.user_name.clone()))
                .collect();
            rows.append(&mut got);
            got = rows;
            if page.rows.len() == LIMIT as usize {
                assert_eq!(page.searched_to, None);
                cursor = page.rows.first().map(|r| r.0);
            } else if let Some(h) = page.searched_to {
                assert!(page.rows.iter().all(|r| r.0 >= h));
                assert!(cursor.is_some_and(|c| h < c));
                partial_pages += 1;
                cursor = Some(h);
            } else {
                cursor = None;
                break;
            }
        }
        assert_eq!(cursor, None, "the backward walk ended");
        assert_eq!(got, want, "backward, active {active:?}");
        assert!(partial_pages >= 1, "{partial_pages}");
    }
}

// ---------------------------------------------------------------------------------------------
// Scans: chunks in insertion order.

/// The users of a scan by `key`, read `chunk` rows at a time from the start, with the seqs;
/// asserts each chunk is at most `chunk` rows and that seqs only grow.
async fn scan_all_users(
    store: &Arc<dyn Store>,
    org: OrgId,
    key: Option<IndexKey>,
    chunk: u32,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_seq = 0;
    loop {
        let q = ScanQuery {
            key: key.clone(),
            after_seq,
            limit: chunk,
        };
        let rows = store.scan_users(org, &q, false).await.unwrap();
        assert!(
            rows.len() <= chunk as usize,
            "{} rows > {chunk}",
            rows.len()
        );
        for (seq, u, _) in &rows {
            assert!(*seq > after_seq, "seq {seq} after {after_seq}");
            after_seq = *seq;
            out.push(u.id.to_string());
        }
        if rows.len() < chunk as usize {
            return out;
        }
    }
}

pub async fn scans_visit_every_match_once_in_chunks(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let other = new_org(&store).await;
    let mut users = Vec::new();
    for i in 0..23 {
        let name = format!("scan{i:02}@acme.com");
        let mut u = user_with(
            org.id,
            &name,
            (i % 4 != 0).then_some("Dev"),
            &[&name, &format!("alt{i}@example.org")],
        );
        u.doc["active"] = json!(i % 3 != 0);
        u.updated_at = at(i * 10);
        u.reindex();
        insert_user(&store, &u).await;
        users.push(u);
        // Interleaved: another organization's rows sit between this one's.
        insert_user(&store, &user(other.id, &name)).await;
    }
    // A deleted user leaves a gap in the seqs.
    store.delete_user(org.id, users[5].id).await.unwrap();
    users.remove(5);
    let ids = |pred: &dyn Fn(&UserRecord) -> bool| -> Vec<String> {
        users
            .iter()
            .filter(|u| pred(u))
            .map(|u| u.id.to_string())
            .collect()
    };
    let cases: Vec<(Option<IndexKey>, Vec<String>)> = vec![
        (None, ids(&|_| true)),
        (Some(IndexKey::Active(false)), ids(&|u| !u.active)),
        (
            Some(IndexKey::DisplayNameLower("dev".into())),
            ids(&|u| u.display_name.is_some()),
        ),
        (
            Some(IndexKey::LastModified(Cmp::Ge, at(100))),
            ids(&|u| u.updated_at >= at(100)),
        ),
        (
            Some(IndexKey::Text(
                TextColumn::UserNameLower,
                TextOp::Prefix,
                "scan1".into(),
            )),
            ids(&|u| u.user_name.starts_with("scan1")),
        ),
        (
            Some(IndexKey::Text(
                TextColumn::EmailLower,
                TextOp::Contains,
                "1@example".into(),
            )),
            ids(&|u| u.emails.iter().any(|e| e.contains("1@example"))),
        ),
        (
            Some(IndexKey::Text(
                TextColumn::UserNameLower,
                TextOp::Suffix,
                "2@acme.com".into(),
            )),
            ids(&|u| u.user_name.ends_with("2@acme.com")),
        ),
        (
            Some(IndexKey::EmailLower("alt7@example.org".into())),
            ids(&|u| u.user_name == "scan07@acme.com"),
        ),
    ];
    for (key, expected) in cases {
        assert!(!expected.is_empty(), "{key:?}");
        for chunk in [1, 2, 5, 7, 22, 100] {
            assert_eq!(
                scan_all_users(&store, org.id, key.clone(), chunk).await,
                expected,
                "{key:?} in chunks of {chunk}"
            );
        }
    }

    // Rows read back by seq, in any order asked, only this organization's.
    let q = ScanQuery {
        key: None,
        after_seq: 0,
        limit: 100,
    };
    let all = store.scan_users(org.id, &q, true).await.unwrap();
    let picked: Vec<i64> = vec![all[9].0, all[2].0, all[15].0];
    let q = ScanQuery {
        key: Some(IndexKey::Seqs(picked.clone())),
        after_seq: 0,
        limit: 3,
    };
    let back = store.scan_users(org.id, &q, false).await.unwrap();
    let mut want: Vec<i64> = picked.clone();
    want.sort();
    assert_eq!(back.iter().map(|r| r.0).collect::<Vec<_>>(), want);
    assert!(store
        .scan_users(other.id, &q, false)
        .await
        .unwrap()
        .is_empty());
    let none = ScanQuery {
        key: Some(IndexKey::Seqs(vec![])),
        after_seq: 0,
        limit: 3,
    };
    assert!(store
        .scan_users(org.id, &none, false)
        .await
        .unwrap()
        .is_empty());

    // Groups, with their visibility to SCIM.
    let mut visible = Vec::new();
    for i in 0..9 {
        let mut g = group(org.id, &format!("Team {i}"));
        g.scim_visible = i % 3 != 1;
        store.insert_group(&g, &[]).await.unwrap();
        if g.scim_visible {
            visible.push(g.id.to_string());
        }
        store
            .insert_group(&group(other.id, "Team"), &[])
            .await
            .unwrap();
    }
    for chunk in [1, 2, 4, 50] {
        let mut seen = Vec::new();
        let mut after_seq = 0;
        loop {
            let q = ScanQuery {
                key: None,
                after_seq,
                limit: chunk,
            };
            let rows = store.scan_groups(org.id, true, &q).await.unwrap();
            assert!(rows.len() <= chunk as usize);
            seen.extend(rows.iter().map(|(_, g)| g.id.to_string()));
            match rows.last() {
                Some((seq, _)) if rows.len() == chunk as usize => after_seq = *seq,
                _ => break,
            }
        }
        assert_eq!(seen, visible, "chunks of {chunk}");
    }
    let q = ScanQuery {
        key: Some(IndexKey::Text(
            TextColumn::DisplayNameLower,
            TextOp::Suffix,
            " 8".into(),
        )),
        after_seq: 0,
        limit: 10,
    };
    let eights = store.scan_groups(org.id, true, &q).await.unwrap();
    assert_eq!(eights.len(), 1);
    assert_eq!(eights[0].1.display_name, "Team 8");
}

/// `sw`, `co` and `ew` keys compare bytes (no collation, `_` and `%` literal), the empty
/// string matches every value but not a missing one, and a store page of them is exact.
pub async fn text_keys_match_byte_for_byte_and_page(store: Arc<dyn Store>) {
    let org = new_org(&store).await;
    let names = [
        "a_b@acme.com",
        "axb@acme.com",
        "a%b@acme.com",
        "émile@acme.com",
        "emile@acme.com",
        "zz@acme.com",
    ];
    let mut users = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut u = user_with(org.id, name, (i % 2 == 0).then_some("Émile Z"), &[name]);
        if i % 3 == 0 {
            u.doc["externalId"] = json!(format!("Ext-{i}"));
        }
        u.reindex();
        insert_user(&store, &u).await;
        users.push(u);
    }
    let ids = |pred: &dyn Fn(&UserRecord) -> bool| -> Vec<String> {
        users
            .iter()
            .filter(|u| pred(u))
            .map(|u| u.id.to_string())
            .collect()
    };
    let text = |c, op, v: &str| Some(IndexKey::Text(c, op, v.to_string()));
    use TextColumn::*;
    use TextOp::*;
    let cases = vec![
        (
            text(UserNameLower, Prefix, "a_"),
            ids(&|u| u.user_name.starts_with("a_")),
        ),
        (
            text(UserNameLower, Contains, "%"),
            ids(&|u| u.user_name.contains('%')),
        ),
        (
            text(UserNameLower, Prefix, "é"),
            ids(&|u| u.user_name.starts_with('é')),
        ),
        (
            text(UserNameLower, Suffix, "mile@acme.com"),
            ids(&|u| u.user_name.ends_with("mile@acme.com")),
        ),
        (
            text(UserNameLower, Contains, "b@"),
            ids(&|u| u.user_name.contains("b@")),
        ),
        (text(DisplayNameLower, Suffix, "é z"), vec![]),
        (
            text(DisplayNameLower, Prefix, "émile"),
            ids(&|u| u.display_name.is_some()),
        ),
        (
            text(DisplayNameLower, Contains, ""),
            ids(&|u| u.display_name.is_some()),
        ),
        (
            text(ExternalId, Prefix, "Ext-"),
            ids(&|u| u.external_id.is_some()),
        ),
        (text(ExternalId, Prefix, "ext-"), vec![]),
        (
            text(ExternalId, Suffix, "-3"),
            ids(&|u| u.external_id.as_deref() == Some("Ext-3")),
        ),
        (
            text(EmailLower, Prefix, "zz@"),
            ids(&|u| u.user_name == "zz@acme.com"),
        ),
    ];
    for (key, expected) in cases {
        assert_eq!(
            scan_all_users(&store, org.id, key.clone(), 2).await,
            expected,
            "{key:?}"
        );
        // A store page: the whole count, and the window.
        let mut q = query(key.clone());
        q.limit = Some(1);
        q.offset = 1;
        let page = store.query_users(org.id, &q).await.unwrap();
        assert_eq!(page.total, expected.len() as u64, "{key:?}");
        assert_eq!(
            ids_of(&page.items, |u| u.id),
            expected.iter().skip(1).take(1).cloned().collect::<Vec<_>>(),
            "{key:?}"
        );
    }
}
