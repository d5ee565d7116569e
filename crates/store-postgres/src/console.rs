//! Console administrators, invites, console sessions and the sign-in throttle.

use crate::rows::{backend, from_ms, get, ms, write_error};
use crate::PostgresStore;
use async_trait::async_trait;
use directory::ids::{AdminId, OrgId, UserId};
use directory::model::{AdminAccount, AdminInvite, ConsoleSession};
use directory::store::{ConsoleStore, SignInLimit, SignInReservation, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::PgPool;
use store_sql::console as sql;
use time::{Duration, OffsetDateTime};

pub(crate) fn admin_row(r: &PgRow) -> StoreResult<AdminAccount> {
    Ok(AdminAccount {
        id: AdminId(get(r, "id")?),
        org_id: OrgId(get(r, "org_id")?),
        email: get(r, "email")?,
        password_hash: get(r, "password_hash")?,
        created_at: from_ms(get(r, "created_at")?),
        last_sign_in_at: get::<Option<i64>>(r, "last_sign_in_at")?.map(from_ms),
        user_id: get::<Option<uuid::Uuid>>(r, "user_id")?.map(UserId),
    })
}

pub(crate) fn one_row(changed: u64) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) async fn create_admin(pool: &PgPool, a: &AdminAccount) -> StoreResult<()> {
    sqlx::query(sql::INSERT_CONSOLE_ADMINS.postgres())
        .bind(a.id.0)
        .bind(a.org_id.0)
        .bind(&a.email)
        .bind(&a.password_hash)
        .bind(ms(a.created_at))
        .bind(a.last_sign_in_at.map(ms))
        .bind(a.user_id.map(|u| u.0))
        .execute(pool)
        .await
        .map_err(|e| write_error(e, "email"))?;
    Ok(())
}

pub(crate) async fn admin_by_email(
    pool: &PgPool,
    org: OrgId,
    email: &str,
) -> StoreResult<Option<AdminAccount>> {
    sqlx::query(sql::SELECT_CONSOLE_ADMINS_BY_EMAIL.postgres())
        .bind(org.0)
        .bind(email)
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .map(|r| admin_row(&r))
        .transpose()
}

pub(crate) async fn admin_by_id(
    pool: &PgPool,
    org: OrgId,
    id: AdminId,
) -> StoreResult<Option<AdminAccount>> {
    sqlx::query(sql::SELECT_CONSOLE_ADMINS_BY_ID.postgres())
        .bind(org.0)
        .bind(id.0)
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .map(|r| admin_row(&r))
        .transpose()
}

pub(crate) async fn set_admin_password(
    pool: &PgPool,
    org: OrgId,
    id: AdminId,
    hash: &str,
) -> StoreResult<()> {
    let done = sqlx::query(sql::UPDATE_CONSOLE_ADMINS_SET_PASSWORD_HASH.postgres())
        .bind(hash)
        .bind(org.0)
        .bind(id.0)
        .execute(pool)
        .await
        .map_err(backend)?;
    one_row(done.rows_affected())
}

pub(crate) async fn record_admin_sign_in(
    pool: &PgPool,
    org: OrgId,
    id: AdminId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    let done = sqlx::query(sql::UPDATE_CONSOLE_ADMINS_SET_LAST_SIGN_IN_AT.postgres())
        .bind(ms(at))
        .bind(org.0)
        .bind(id.0)
        .execute(pool)
        .await
        .map_err(backend)?;
    one_row(done.rows_affected())
}

pub(crate) async fn create_invite(pool: &PgPool, i: &AdminInvite) -> StoreResult<()> {
    sqlx::query(sql::INSERT_CONSOLE_INVITES.postgres())
        .bind(&i.token_hash)
        .bind(i.org_id.0)
        .bind(&i.email)
        .bind(ms(i.created_at))
        .bind(ms(i.expires_at))
        .bind(i.used_at.map(ms))
        .execute(pool)
        .await
        .map_err(|e| write_error(e, "invite"))?;
    Ok(())
}

fn invite_row(r: &PgRow) -> StoreResult<AdminInvite> {
    Ok(AdminInvite {
        token_hash: get(r, "token_hash")?,
        org_id: OrgId(get(r, "org_id")?),
        email: get(r, "email")?,
        created_at: from_ms(get(r, "created_at")?),
        expires_at: from_ms(get(r, "expires_at")?),
        used_at: get::<Option<i64>>(r, "used_at")?.map(from_ms),
    })
}

pub(crate) async fn invite_by_hash(pool: &PgPool, hash: &str) -> StoreResult<Option<AdminInvite>> {
    sqlx::query(
        "SELECT token_hash, org_id, email, created_at, expires_at, used_at FROM console_invites WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .map(|r| invite_row(&r))
    .transpose()
}

pub(crate) async fn take_invite(
    pool: &PgPool,
    hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<AdminInvite>> {
    // The row lock of the UPDATE makes concurrent takes queue; the second sees used_at set.
    let row = sqlx::query(
        "UPDATE console_invites SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING token_hash, org_id, email, created_at, expires_at, used_at",
    )
    .bind(ms(now))
    .bind(hash)
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(|r| invite_row(&r)).transpose()
}

pub(crate) async fn create_session(pool: &PgPool, s: &ConsoleSession) -> StoreResult<()> {
    sqlx::query(sql::INSERT_CONSOLE_SESSIONS.postgres())
        .bind(&s.id_hash)
        .bind(s.org_id.0)
        .bind(s.admin_id.0)
        .bind(&s.csrf_token)
        .bind(ms(s.created_at))
        .bind(ms(s.last_seen_at))
        .bind(ms(s.idle_expires_at))
        .bind(ms(s.absolute_expires_at))
        .bind(s.sso_user_id.map(|u| u.0))
        .execute(pool)
        .await
        .map_err(|e| write_error(e, "console session"))?;
    Ok(())
}

pub(crate) async fn session_by_hash(
    pool: &PgPool,
    hash: &str,
) -> StoreResult<Option<ConsoleSession>> {
    let row = sqlx::query(sql::SELECT_CONSOLE_SESSIONS_BY_ID_HASH.postgres())
        .bind(hash)
        .fetch_optional(pool)
        .await
        .map_err(backend)?;
    row.map(|r| {
        Ok(ConsoleSession {
            id_hash: get(&r, "id_hash")?,
            org_id: OrgId(get(&r, "org_id")?),
            admin_id: AdminId(get(&r, "admin_id")?),
            csrf_token: get(&r, "csrf_token")?,
            created_at: from_ms(get(&r, "created_at")?),
            last_seen_at: from_ms(get(&r, "last_seen_at")?),
            idle_expires_at: from_ms(get(&r, "idle_expires_at")?),
            absolute_expires_at: from_ms(get(&r, "absolute_expires_at")?),
            sso_user_id: get::<Option<uuid::Uuid>>(&r, "sso_user_id")?.map(UserId),
        })
    })
    .transpose()
}

pub(crate) async fn touch_session(
    pool: &PgPool,
    hash: &str,
    now: OffsetDateTime,
    idle_expires_at: OffsetDateTime,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE console_sessions SET last_seen_at = GREATEST(last_seen_at, $1), idle_expires_at = GREATEST(idle_expires_at, $2) WHERE id_hash = $3",
    )
    .bind(ms(now))
    .bind(ms(idle_expires_at))
    .bind(hash)
    .execute(pool)
    .await
    .map_err(backend)?;
    one_row(done.rows_affected())
}

pub(crate) async fn delete_session(pool: &PgPool, hash: &str) -> StoreResult<()> {
    sqlx::query(sql::DELETE_CONSOLE_SESSIONS_BY_ID_HASH.postgres())
        .bind(hash)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

pub(crate) async fn delete_admin_sessions(
    pool: &PgPool,
    org: OrgId,
    admin: AdminId,
) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM console_sessions WHERE org_id = $1 AND admin_id = $2")
        .bind(org.0)
        .bind(admin.0)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(done.rows_affected())
}

pub(crate) async fn reserve_sign_in_attempt(
    pool: &PgPool,
    limits: &[SignInLimit],
    now: OffsetDateTime,
    window: Duration,
) -> StoreResult<SignInReservation> {
    if limits.is_empty() {
        return Ok(SignInReservation::Allowed);
    }
    let keys: Vec<&str> = limits.iter().map(|l| l.key.as_str()).collect();
    let caps: Vec<i64> = limits.iter().map(|l| i64::from(l.limit)).collect();
    // A transaction lock per key makes concurrent reservations of a key (from any node) run
    // one after the other, so each sees every attempt before it. Locks are taken in the order
    // of their ids: a volatile function in the select list is evaluated after ORDER BY, so two
    // reservations sharing keys never wait on each other in a cycle.
    let mut tx = pool.begin().await.map_err(backend)?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(lock_id) FROM (SELECT DISTINCT hashtextextended(k, 0) AS lock_id FROM unnest($1::text[]) AS k) AS ids ORDER BY lock_id",
    )
    .bind(&keys)
    .execute(&mut *tx)
    .await
    .map_err(backend)?;
    // One statement: forget what fell out of the window, count what is left per key, and
    // count this attempt under every key only when none is full. Every part sees the same
    // snapshot, so the count leaves out the rows being forgotten (they are older than the window).
    let full: Option<i32> = sqlx::query_scalar(
        "WITH forgotten AS (
             DELETE FROM console_sign_in_failures WHERE key = ANY($1) AND at <= $3
         ), counts AS (
             SELECT l.ord, (SELECT COUNT(*) FROM console_sign_in_failures f
                            WHERE f.key = l.key AND f.at > $3) >= l.cap AS is_full
             FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS l(key, cap, ord)
         ), reserved AS (
             INSERT INTO console_sign_in_failures (key, at)
             SELECT k, $4 FROM unnest($1::text[]) AS k
             WHERE NOT EXISTS (SELECT 1 FROM counts WHERE is_full)
         )
         SELECT (MIN(ord) - 1)::int FROM counts WHERE is_full",
    )
    .bind(&keys)
    .bind(&caps)
    .bind(ms(now - window))
    .bind(ms(now))
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    Ok(match full.and_then(|i| usize::try_from(i).ok()) {
        Some(full) => SignInReservation::Throttled { full },
        None => SignInReservation::Allowed,
    })
}

pub(crate) async fn release_sign_in_attempt(
    pool: &PgPool,
    key: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    // One row: other attempts made at the same millisecond stay counted.
    sqlx::query(
        "DELETE FROM console_sign_in_failures WHERE ctid = (SELECT ctid FROM console_sign_in_failures WHERE key = $1 AND at = $2 LIMIT 1)",
    )
    .bind(key)
    .bind(ms(at))
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn clear_failed_sign_ins(pool: &PgPool, key: &str) -> StoreResult<()> {
    sqlx::query(sql::DELETE_CONSOLE_SIGN_IN_FAILURES_BY_KEY.postgres())
        .bind(key)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl ConsoleStore for PostgresStore {
    async fn create_admin(&self, admin: &AdminAccount) -> StoreResult<()> {
        create_admin(&self.pool, admin).await
    }

    async fn admin_by_email(&self, org: OrgId, email: &str) -> StoreResult<Option<AdminAccount>> {
        admin_by_email(&self.pool, org, email).await
    }

    async fn admin_by_id(&self, org: OrgId, id: AdminId) -> StoreResult<Option<AdminAccount>> {
        admin_by_id(&self.pool, org, id).await
    }

    async fn set_admin_password(&self, org: OrgId, id: AdminId, hash: &str) -> StoreResult<()> {
        set_admin_password(&self.pool, org, id, hash).await
    }

    async fn record_admin_sign_in(
        &self,
        org: OrgId,
        id: AdminId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        record_admin_sign_in(&self.pool, org, id, at).await
    }

    async fn create_admin_invite(&self, invite: &AdminInvite) -> StoreResult<()> {
        create_invite(&self.pool, invite).await
    }

    async fn admin_invite_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminInvite>> {
        invite_by_hash(&self.pool, token_hash).await
    }

    async fn take_admin_invite(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AdminInvite>> {
        take_invite(&self.pool, token_hash, now).await
    }

    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        create_session(&self.pool, session).await
    }

    async fn console_session_by_hash(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        session_by_hash(&self.pool, id_hash).await
    }

    async fn touch_console_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        touch_session(&self.pool, id_hash, now, idle_expires_at).await
    }

    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()> {
        delete_session(&self.pool, id_hash).await
    }

    async fn delete_admin_console_sessions(&self, org: OrgId, admin: AdminId) -> StoreResult<u64> {
        delete_admin_sessions(&self.pool, org, admin).await
    }

    async fn reserve_sign_in_attempt(
        &self,
        limits: &[SignInLimit],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<SignInReservation> {
        reserve_sign_in_attempt(&self.pool, limits, now, window).await
    }

    async fn release_sign_in_attempt(&self, key: &str, at: OffsetDateTime) -> StoreResult<()> {
        release_sign_in_attempt(&self.pool, key, at).await
    }

    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()> {
        clear_failed_sign_ins(&self.pool, key).await
    }
}
