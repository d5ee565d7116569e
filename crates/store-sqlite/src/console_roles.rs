//! The admins page and admin roles: listing and removing admins, linking an admin to the
//! directory user they sign in as, the admin group and the local users granted the role.

use crate::console::{admin_row, one_row};
use crate::engine::backend;
use crate::rows::{execute, fetch_all, fetch_optional, ms, parse_uuid, write_error};
use crate::SqliteStore;
use async_trait::async_trait;
use directory::ids::{AdminId, GroupId, OrgId, UserId};
use directory::model::AdminAccount;
use directory::store::{ConsoleRoleStore, StoreResult};
use rusqlite::{params, Connection};
use store_sql::console_roles as sql;
use time::OffsetDateTime;

pub(crate) fn list_admins(conn: &Connection, org: OrgId) -> StoreResult<Vec<AdminAccount>> {
    fetch_all(
        conn,
        sql::SELECT_CONSOLE_ADMINS.sqlite(),
        params![org.to_string()],
        admin_row,
    )
}

pub(crate) fn delete_admin(conn: &Connection, org: OrgId, id: AdminId) -> StoreResult<()> {
    let (org_s, id_s) = (org.to_string(), id.to_string());
    let email = fetch_optional(
        conn,
        "SELECT email FROM console_admins WHERE org_id = ? AND id = ?",
        params![org_s, id_s],
        |r| r.get::<_, String>(0).map_err(backend),
    )?;
    let Some(email) = email else {
        return one_row(0);
    };
    // The writer runs this in one savepoint: all three go, or none.
    execute(
        conn,
        "DELETE FROM console_sessions WHERE org_id = ? AND admin_id = ?",
        params![org_s, id_s],
    )
    .map_err(backend)?;
    execute(
        conn,
        sql::DELETE_PENDING_CONSOLE_INVITES_BY_EMAIL.sqlite(),
        params![org_s, email],
    )
    .map_err(backend)?;
    one_row(
        execute(
            conn,
            "DELETE FROM console_admins WHERE org_id = ? AND id = ?",
            params![org_s, id_s],
        )
        .map_err(backend)?,
    )
}

pub(crate) fn link_admin_user(
    conn: &Connection,
    org: OrgId,
    id: AdminId,
    user: UserId,
) -> StoreResult<()> {
    one_row(
        execute(
            conn,
            sql::UPDATE_CONSOLE_ADMINS_SET_USER_ID.sqlite(),
            params![user.to_string(), org.to_string(), id.to_string()],
        )
        .map_err(|e| write_error(e, "user"))?,
    )
}

pub(crate) fn admin_by_user(
    conn: &Connection,
    org: OrgId,
    user: UserId,
) -> StoreResult<Option<AdminAccount>> {
    fetch_optional(
        conn,
        sql::SELECT_CONSOLE_ADMINS_BY_USER_ID.sqlite(),
        params![org.to_string(), user.to_string()],
        admin_row,
    )
}

pub(crate) fn admin_group(conn: &Connection, org: OrgId) -> StoreResult<Option<GroupId>> {
    fetch_optional(
        conn,
        sql::SELECT_CONSOLE_ADMIN_GROUP.sqlite(),
        params![org.to_string()],
        |r| parse_uuid::<GroupId>(&r.get::<_, String>(0).map_err(backend)?),
    )
}

pub(crate) fn set_admin_group(
    conn: &Connection,
    org: OrgId,
    group: Option<GroupId>,
    at: OffsetDateTime,
) -> StoreResult<()> {
    match group {
        Some(g) => execute(
            conn,
            "INSERT INTO console_admin_group (org_id, group_id, set_at) VALUES (?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET group_id = excluded.group_id, set_at = excluded.set_at",
            params![org.to_string(), g.to_string(), ms(at)],
        ),
        None => execute(
            conn,
            sql::DELETE_CONSOLE_ADMIN_GROUP.sqlite(),
            params![org.to_string()],
        ),
    }
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn grant_admin_role(
    conn: &Connection,
    org: OrgId,
    user: UserId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_CONSOLE_ADMIN_USERS.sqlite(),
        params![org.to_string(), user.to_string(), ms(at)],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn revoke_admin_role(conn: &Connection, org: OrgId, user: UserId) -> StoreResult<bool> {
    let n = execute(
        conn,
        sql::DELETE_CONSOLE_ADMIN_USERS_BY_USER_ID.sqlite(),
        params![org.to_string(), user.to_string()],
    )
    .map_err(backend)?;
    Ok(n > 0)
}

pub(crate) fn admin_role_users(conn: &Connection, org: OrgId) -> StoreResult<Vec<UserId>> {
    fetch_all(
        conn,
        sql::SELECT_CONSOLE_ADMIN_USERS.sqlite(),
        params![org.to_string()],
        |r| parse_uuid::<UserId>(&r.get::<_, String>(0).map_err(backend)?),
    )
}

pub(crate) fn holds_admin_role(conn: &Connection, org: OrgId, user: UserId) -> StoreResult<bool> {
    // Primary-key lookups: the user, the grant, the admin group, one membership row.
    let found = fetch_optional(
        conn,
        "SELECT 1 FROM users u WHERE u.id = ?2 AND u.org_id = ?1 AND u.active = 1 AND (
             EXISTS (SELECT 1 FROM console_admin_users a WHERE a.org_id = ?1 AND a.user_id = ?2)
             OR EXISTS (SELECT 1 FROM console_admin_group g JOIN group_members m
                        ON m.group_id = g.group_id AND m.member_id = ?2 AND m.org_id = ?1
                        WHERE g.org_id = ?1))",
        params![org.to_string(), user.to_string()],
        |_| Ok(()),
    )?;
    Ok(found.is_some())
}

pub(crate) fn delete_user_sessions(
    conn: &Connection,
    org: OrgId,
    user: UserId,
) -> StoreResult<u64> {
    let n = execute(
        conn,
        sql::DELETE_CONSOLE_SESSIONS_BY_SSO_USER_ID.sqlite(),
        params![org.to_string(), user.to_string()],
    )
    .map_err(backend)?;
    Ok(n as u64)
}

#[async_trait]
impl ConsoleRoleStore for SqliteStore {
    async fn list_admins(&self, org: OrgId) -> StoreResult<Vec<AdminAccount>> {
        self.engine.read(move |c| list_admins(c, org)).await
    }

    async fn delete_admin(&self, org: OrgId, id: AdminId) -> StoreResult<()> {
        self.engine.write(move |c| delete_admin(c, org, id)).await
    }

    async fn link_admin_user(&self, org: OrgId, id: AdminId, user: UserId) -> StoreResult<()> {
        self.engine
            .write(move |c| link_admin_user(c, org, id, user))
            .await
    }

    async fn admin_by_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<AdminAccount>> {
        self.engine.read(move |c| admin_by_user(c, org, user)).await
    }

    async fn admin_group(&self, org: OrgId) -> StoreResult<Option<GroupId>> {
        self.engine.read(move |c| admin_group(c, org)).await
    }

    async fn set_admin_group(
        &self,
        org: OrgId,
        group: Option<GroupId>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.engine
            .write(move |c| set_admin_group(c, org, group, at))
            .await
    }

    async fn grant_admin_role(
        &self,
        org: OrgId,
        user: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.engine
            .write(move |c| grant_admin_role(c, org, user, at))
            .await
    }

    async fn revoke_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        self.engine
            .write(move |c| revoke_admin_role(c, org, user))
            .await
    }

    async fn admin_role_users(&self, org: OrgId) -> StoreResult<Vec<UserId>> {
        self.engine.read(move |c| admin_role_users(c, org)).await
    }

    async fn holds_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        self.engine
            .read(move |c| holds_admin_role(c, org, user))
            .await
    }

    async fn delete_user_console_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        self.engine
            .write(move |c| delete_user_sessions(c, org, user))
            .await
    }
}
