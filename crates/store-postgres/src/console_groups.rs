//! The console's pages of groups and members: keyset pages, so a page costs O(page) however
//! many groups the organization or members the group has.

use crate::{backend, get, PostgresStore};
use directory::ids::{GroupId, OrgId};
use directory::model::{GroupRecord, Member, MemberKind};
use directory::store::StoreResult;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

pub(crate) async fn list_after(
    pool: &PgPool,
    org: OrgId,
    prefix: Option<&str>,
    after: Option<&(String, GroupId)>,
    limit: u32,
) -> StoreResult<Vec<GroupRecord>> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "SELECT {} FROM groups g WHERE g.org_id = ",
        crate::GROUP_COLUMNS
    ));
    q.push_bind(org.0);
    if let Some(p) = prefix.filter(|p| !p.is_empty()) {
        // display_name_lower is COLLATE "C": byte order, so this range is every name that
        // starts with the prefix, and the (org, name) index serves it.
        q.push(" AND g.display_name_lower >= ")
            .push_bind(p.to_string())
            .push(" AND g.display_name_lower < ")
            .push_bind(format!("{p}{}", char::MAX));
    }
    if let Some((name, id)) = after {
        // `>=` first, so the (org, name) index starts the walk at the cursor.
        q.push(" AND g.display_name_lower >= ")
            .push_bind(name.clone())
            .push(" AND (g.display_name_lower > ")
            .push_bind(name.clone())
            .push(" OR g.id > ")
            .push_bind(id.0)
            .push(")");
    }
    q.push(" ORDER BY g.display_name_lower, g.id LIMIT ")
        .push_bind(i64::from(limit));
    let rows = q.build().fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(PostgresStore::group_from_row).collect()
}

/// The members of the group among `ids` (see `Store::group_members_among`). Member ids are
/// UUIDs: an id that is none is no member.
pub(crate) async fn members_among(
    pool: &PgPool,
    org: OrgId,
    id: GroupId,
    ids: &[String],
) -> StoreResult<Vec<Member>> {
    let ids: Vec<Uuid> = ids.iter().filter_map(|i| i.parse().ok()).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) AS display \
         FROM group_members m \
         LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
         LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
         WHERE m.org_id = $1 AND m.group_id = $2 AND m.member_id = ANY($3) ORDER BY m.member_id",
    )
    .bind(org.0)
    .bind(id.0)
    .bind(&ids)
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.iter().map(member_row).collect()
}

fn member_row(r: &sqlx::postgres::PgRow) -> StoreResult<Member> {
    let kind: String = get(r, "member_type")?;
    let member: Uuid = get(r, "member_id")?;
    Ok(Member {
        id: member.hyphenated().to_string(),
        kind: if kind == "Group" {
            MemberKind::Group
        } else {
            MemberKind::User
        },
        display: get(r, "display")?,
    })
}

pub(crate) async fn members_after(
    pool: &PgPool,
    org: OrgId,
    id: GroupId,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Member>> {
    let after = match after {
        None => None,
        Some(a) => match a.parse::<Uuid>() {
            Ok(u) => Some(u),
            // Member ids are UUIDs: nothing follows a cursor that is none.
            Err(_) => return Ok(Vec::new()),
        },
    };
    let mut q = QueryBuilder::<Postgres>::new(
        "SELECT m.member_id, m.member_type, COALESCE(u.display_name, u.user_name, g.display_name) AS display \
         FROM group_members m \
         LEFT JOIN users u ON m.member_type = 'User' AND u.id = m.member_id \
         LEFT JOIN groups g ON m.member_type = 'Group' AND g.id = m.member_id \
         WHERE m.org_id = ",
    );
    q.push_bind(org.0)
        .push(" AND m.group_id = ")
        .push_bind(id.0);
    if let Some(a) = after {
        q.push(" AND m.member_id > ").push_bind(a);
    }
    q.push(" ORDER BY m.member_id LIMIT ")
        .push_bind(i64::from(limit));
    let rows = q.build().fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(member_row).collect()
}
