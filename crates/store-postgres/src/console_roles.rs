//! The admins page and admin roles: listing and removing admins, linking an admin to the
//! directory user they sign in as, the admin group and the local users granted the role.

use crate::console::{admin_row, one_row};
use crate::rows::{backend, get, ms, write_error};
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::{AdminId, GroupId, OrgId, UserId};
use directory::model::AdminAccount;
use directory::store::{ConsoleRoleStore, StoreResult};
use sqlx::PgPool;
use store_sql::console_roles as sql;
use time::OffsetDateTime;

pub(crate) async fn list_admins(pool: &PgPool, org: OrgId) -> StoreResult<Vec<AdminAccount>> {
    sqlx::query(sql::SELECT_CONSOLE_ADMINS.postgres())
        .bind(org.0)
        .fetch_all(pool)
        .await
        .map_err(backend)?
        .iter()
        .map(admin_row)
        .collect()
}

pub(crate) async fn delete_admin(pool: &PgPool, org: OrgId, id: AdminId) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let email: Option<String> = sqlx::query_scalar(
        "DELETE FROM console_admins WHERE org_id = $1 AND id = $2 RETURNING email",
    )
    .bind(org.0)
    .bind(id.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    let Some(email) = email else {
        return one_row(0);
    };
    sqlx::query("DELETE FROM console_sessions WHERE org_id = $1 AND admin_id = $2")
        .bind(org.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    sqlx::query(sql::DELETE_PENDING_CONSOLE_INVITES_BY_EMAIL.postgres())
        .bind(org.0)
        .bind(&email)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)
}

pub(crate) async fn link_admin_user(
    pool: &PgPool,
    org: OrgId,
    id: AdminId,
    user: UserId,
) -> StoreResult<()> {
    let done = sqlx::query(sql::UPDATE_CONSOLE_ADMINS_SET_USER_ID.postgres())
        .bind(user.0)
        .bind(org.0)
        .bind(id.0)
        .execute(pool)
        .await
        .map_err(|e| write_error(e, "user"))?;
    one_row(done.rows_affected())
}

pub(crate) async fn admin_by_user(
    pool: &PgPool,
    org: OrgId,
    user: UserId,
) -> StoreResult<Option<AdminAccount>> {
    sqlx::query(sql::SELECT_CONSOLE_ADMINS_BY_USER_ID.postgres())
        .bind(org.0)
        .bind(user.0)
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .map(|r| admin_row(&r))
        .transpose()
}

pub(crate) async fn admin_group(pool: &PgPool, org: OrgId) -> StoreResult<Option<GroupId>> {
    let row = sqlx::query(sql::SELECT_CONSOLE_ADMIN_GROUP.postgres())
        .bind(org.0)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| get(&r, "group_id").map(GroupId)).transpose()
}

pub(crate) async fn set_admin_group(
    pool: &PgPool,
    org: OrgId,
    group: Option<GroupId>,
    at: OffsetDateTime,
) -> StoreResult<()> {
    match group {
        Some(g) => sqlx::query(
            "INSERT INTO console_admin_group (org_id, group_id, set_at) VALUES ($1, $2, $3) ON CONFLICT (org_id) DO UPDATE SET group_id = EXCLUDED.group_id, set_at = EXCLUDED.set_at",
        )
        .bind(org.0)
        .bind(g.0)
        .bind(ms(at))
        .execute(pool)
        .await,
        None => sqlx::query(sql::DELETE_CONSOLE_ADMIN_GROUP.postgres())
            .bind(org.0)
            .execute(pool)
            .await,
    }
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn grant_admin_role(
    pool: &PgPool,
    org: OrgId,
    user: UserId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(sql::INSERT_CONSOLE_ADMIN_USERS.postgres())
        .bind(org.0)
        .bind(user.0)
        .bind(ms(at))
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn revoke_admin_role(
    pool: &PgPool,
    org: OrgId,
    user: UserId,
) -> StoreResult<bool> {
    let done = sqlx::query(sql::DELETE_CONSOLE_ADMIN_USERS_BY_USER_ID.postgres())
        .bind(org.0)
        .bind(user.0)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn admin_role_users(pool: &PgPool, org: OrgId) -> StoreResult<Vec<UserId>> {
    let rows = sqlx::query(sql::SELECT_CONSOLE_ADMIN_USERS.postgres())
        .bind(org.0)
        .fetch_all(pool)
        .await
        .map_err(backend)?;
    rows.iter().map(|r| get(r, "user_id").map(UserId)).collect()
}

pub(crate) async fn holds_admin_role(pool: &PgPool, org: OrgId, user: UserId) -> StoreResult<bool> {
    // Primary-key lookups: the user, the grant, the admin group, one membership row.
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM users u WHERE u.id = $2 AND u.org_id = $1 AND u.active AND (
             EXISTS (SELECT 1 FROM console_admin_users a WHERE a.org_id = $1 AND a.user_id = $2)
             OR EXISTS (SELECT 1 FROM console_admin_group g JOIN group_members m
                        ON m.group_id = g.group_id AND m.member_id = $2 AND m.org_id = $1
                        WHERE g.org_id = $1))",
    )
    .bind(org.0)
    .bind(user.0)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    Ok(found.is_some())
}

pub(crate) async fn delete_user_sessions(
    pool: &PgPool,
    org: OrgId,
    user: UserId,
) -> StoreResult<u64> {
    let done = sqlx::query(sql::DELETE_CONSOLE_SESSIONS_BY_SSO_USER_ID.postgres())
        .bind(org.0)
        .bind(user.0)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}

#[async_trait]
impl ConsoleRoleStore for PostgresStore {
    async fn list_admins(&self, org: OrgId) -> StoreResult<Vec<AdminAccount>> {
        list_admins(&self.pool, org).await
    }

    async fn delete_admin(&self, org: OrgId, id: AdminId) -> StoreResult<()> {
        delete_admin(&self.pool, org, id).await
    }

    async fn link_admin_user(&self, org: OrgId, id: AdminId, user: UserId) -> StoreResult<()> {
        link_admin_user(&self.pool, org, id, user).await
    }

    async fn admin_by_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<AdminAccount>> {
        admin_by_user(&self.pool, org, user).await
    }

    async fn admin_group(&self, org: OrgId) -> StoreResult<Option<GroupId>> {
        admin_group(&self.pool, org).await
    }

    async fn set_admin_group(
        &self,
        org: OrgId,
        group: Option<GroupId>,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        set_admin_group(&self.pool, org, group, at).await
    }

    async fn grant_admin_role(
        &self,
        org: OrgId,
        user: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        grant_admin_role(&self.pool, org, user, at).await
    }

    async fn revoke_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        revoke_admin_role(&self.pool, org, user).await
    }

    async fn admin_role_users(&self, org: OrgId) -> StoreResult<Vec<UserId>> {
        admin_role_users(&self.pool, org).await
    }

    async fn holds_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool> {
        holds_admin_role(&self.pool, org, user).await
    }

    async fn delete_user_console_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64> {
        delete_user_sessions(&self.pool, org, user).await
    }
}
