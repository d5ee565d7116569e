//! `portcullis bench-load-users`: synthetic users written straight to the store, for benchmarks.

use super::{fail, BenchLoadUsersArgs};
use directory::admin::AdminService;
use std::sync::Arc;

/// The synthetic user `i` of the benchmark organization.
fn bench_user(
    org: directory::OrgId,
    i: u64,
    args: &BenchLoadUsersArgs,
    now: time::OffsetDateTime,
) -> directory::model::UserRecord {
    use directory::model::{ManagedBy, UserRecord};
    let first = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal"][(i % 8) as usize];
    let doc = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("u{i:07}@{}", args.domain),
        "name": {"givenName": first, "familyName": format!("L{i:07}")},
        "displayName": format!("{first} L{i:07}"),
        "emails": [{"value": format!("m{i:07}@{}", args.domain), "primary": true, "type": "work"}],
        "externalId": format!("00u{i:07}"),
        "active": args.deactivated_every == 0 || !i.is_multiple_of(args.deactivated_every),
    });
    let mut u = UserRecord {
        id: directory::UserId::new_random(),
        org_id: org,
        user_name: String::new(),
        external_id: None,
        display_name: None,
        active: true,
        emails: Vec::new(),
        doc,
        managed_by: if args.local_every != 0 && i.is_multiple_of(args.local_every) {
            ManagedBy::Local
        } else {
            ManagedBy::Scim
        },
        created_at: now,
        updated_at: now,
        version: 1,
    };
    u.reindex();
    u
}

pub(super) async fn bench_load_users(
    admin: &AdminService,
    store: Arc<dyn directory::Store>,
    now: time::OffsetDateTime,
    args: BenchLoadUsersArgs,
) -> anyhow::Result<()> {
    let org = admin.org(&args.org).await.map_err(fail)?;
    let args = Arc::new(args);
    let writers = args.writers.max(1);
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (store, args) = (store.clone(), args.clone());
        tasks.spawn(async move {
            let mut i = w;
            while i < args.count {
                store
                    .insert_user(&bench_user(org.id, i, &args, now))
                    .await
                    .map_err(|e| anyhow::anyhow!("user {i}: {e}"))?;
                i += writers;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    eprintln!(
        "{} users inserted in {:.1} s",
        args.count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
