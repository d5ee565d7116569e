//! Console administrators, invites, console sessions and the sign-in throttle.

use crate::engine::backend;
use crate::rows::{execute, fetch_optional, from_ms, ms, parse_uuid, write_error};
use crate::SqliteStore;
use async_trait::async_trait;
use directory::ids::{AdminId, OrgId, UserId};
use directory::model::{AdminAccount, AdminInvite, ConsoleSession};
use directory::store::{ConsoleStore, SignInLimit, SignInReservation, StoreError, StoreResult};
use rusqlite::{params, Connection, Row};
use store_sql::console as sql;
use time::{Duration, OffsetDateTime};

pub(crate) fn admin_row(r: &Row<'_>) -> StoreResult<AdminAccount> {
    Ok(AdminAccount {
        id: parse_uuid::<AdminId>(&r.get::<_, String>(0).map_err(backend)?)?,
        org_id: parse_uuid::<OrgId>(&r.get::<_, String>(1).map_err(backend)?)?,
        email: r.get(2).map_err(backend)?,
        password_hash: r.get(3).map_err(backend)?,
        created_at: from_ms(r.get(4).map_err(backend)?),
        last_sign_in_at: r.get::<_, Option<i64>>(5).map_err(backend)?.map(from_ms),
        user_id: optional_uuid(r.get(6).map_err(backend)?)?,
    })
}

fn optional_uuid(v: Option<String>) -> StoreResult<Option<UserId>> {
    v.map(|s| parse_uuid::<UserId>(&s)).transpose()
}

pub(crate) fn create_admin(conn: &Connection, a: &AdminAccount) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_CONSOLE_ADMINS.sqlite(),
        params![
            a.id.to_string(),
            a.org_id.to_string(),
            a.email,
            a.password_hash,
            ms(a.created_at),
            a.last_sign_in_at.map(ms),
            a.user_id.map(|u| u.to_string()),
        ],
    )
    .map_err(|e| write_error(e, "email"))?;
    Ok(())
}

pub(crate) fn admin_by_email(
    conn: &Connection,
    org: OrgId,
    email: &str,
) -> StoreResult<Option<AdminAccount>> {
    fetch_optional(
        conn,
        sql::SELECT_CONSOLE_ADMINS_BY_EMAIL.sqlite(),
        params![org.to_string(), email],
        admin_row,
    )
}

pub(crate) fn admin_by_id(
    conn: &Connection,
    org: OrgId,
    id: AdminId,
) -> StoreResult<Option<AdminAccount>> {
    fetch_optional(
        conn,
        sql::SELECT_CONSOLE_ADMINS_BY_ID.sqlite(),
        params![org.to_string(), id.to_string()],
        admin_row,
    )
}

pub(crate) fn one_row(changed: usize) -> StoreResult<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(crate) fn set_admin_password(
    conn: &Connection,
    org: OrgId,
    id: AdminId,
    hash: &str,
) -> StoreResult<()> {
    one_row(
        execute(
            conn,
            sql::UPDATE_CONSOLE_ADMINS_SET_PASSWORD_HASH.sqlite(),
            params![hash, org.to_string(), id.to_string()],
        )
        .map_err(backend)?,
    )
}

pub(crate) fn record_admin_sign_in(
    conn: &Connection,
    org: OrgId,
    id: AdminId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    one_row(
        execute(
            conn,
            sql::UPDATE_CONSOLE_ADMINS_SET_LAST_SIGN_IN_AT.sqlite(),
            params![ms(at), org.to_string(), id.to_string()],
        )
        .map_err(backend)?,
    )
}

pub(crate) fn create_invite(conn: &Connection, i: &AdminInvite) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_CONSOLE_INVITES.sqlite(),
        params![
            i.token_hash,
            i.org_id.to_string(),
            i.email,
            ms(i.created_at),
            ms(i.expires_at),
            i.used_at.map(ms),
        ],
    )
    .map_err(|e| write_error(e, "invite"))?;
    Ok(())
}

const INVITE_COLUMNS: &str = "token_hash, org_id, email, created_at, expires_at, used_at";

fn invite_row(r: &Row<'_>) -> StoreResult<AdminInvite> {
    Ok(AdminInvite {
        token_hash: r.get(0).map_err(backend)?,
        org_id: parse_uuid::<OrgId>(&r.get::<_, String>(1).map_err(backend)?)?,
        email: r.get(2).map_err(backend)?,
        created_at: from_ms(r.get(3).map_err(backend)?),
        expires_at: from_ms(r.get(4).map_err(backend)?),
        used_at: r.get::<_, Option<i64>>(5).map_err(backend)?.map(from_ms),
    })
}

pub(crate) fn invite_by_hash(conn: &Connection, hash: &str) -> StoreResult<Option<AdminInvite>> {
    fetch_optional(
        conn,
        &format!("SELECT {INVITE_COLUMNS} FROM console_invites WHERE token_hash = ?"),
        params![hash],
        invite_row,
    )
}

pub(crate) fn take_invite(
    conn: &Connection,
    hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Option<AdminInvite>> {
    // One statement on the single writer: the mark and the read are one step.
    fetch_optional(
        conn,
        &format!(
            "UPDATE console_invites SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING {INVITE_COLUMNS}"
        ),
        params![ms(now), hash, ms(now)],
        invite_row,
    )
}

pub(crate) fn create_session(conn: &Connection, s: &ConsoleSession) -> StoreResult<()> {
    execute(
        conn,
        sql::INSERT_CONSOLE_SESSIONS.sqlite(),
        params![
            s.id_hash,
            s.org_id.to_string(),
            s.admin_id.to_string(),
            s.csrf_token,
            ms(s.created_at),
            ms(s.last_seen_at),
            ms(s.idle_expires_at),
            ms(s.absolute_expires_at),
            s.sso_user_id.map(|u| u.to_string()),
        ],
    )
    .map_err(|e| write_error(e, "console session"))?;
    Ok(())
}

pub(crate) fn session_by_hash(
    conn: &Connection,
    hash: &str,
) -> StoreResult<Option<ConsoleSession>> {
    fetch_optional(
        conn,
        sql::SELECT_CONSOLE_SESSIONS_BY_ID_HASH.sqlite(),
        params![hash],
        |r| {
            Ok(ConsoleSession {
                id_hash: r.get(0).map_err(backend)?,
                org_id: parse_uuid::<OrgId>(&r.get::<_, String>(1).map_err(backend)?)?,
                admin_id: parse_uuid::<AdminId>(&r.get::<_, String>(2).map_err(backend)?)?,
                csrf_token: r.get(3).map_err(backend)?,
                created_at: from_ms(r.get(4).map_err(backend)?),
                last_seen_at: from_ms(r.get(5).map_err(backend)?),
                idle_expires_at: from_ms(r.get(6).map_err(backend)?),
                absolute_expires_at: from_ms(r.get(7).map_err(backend)?),
                sso_user_id: optional_uuid(r.get(8).map_err(backend)?)?,
            })
        },
    )
}

pub(crate) fn touch_session(
    conn: &Connection,
    hash: &str,
    now: OffsetDateTime,
    idle_expires_at: OffsetDateTime,
) -> StoreResult<()> {
    one_row(
        execute(
            conn,
            "UPDATE console_sessions SET last_seen_at = MAX(last_seen_at, ?), idle_expires_at = MAX(idle_expires_at, ?) WHERE id_hash = ?",
            params![ms(now), ms(idle_expires_at), hash],
        )
        .map_err(backend)?,
    )
}

pub(crate) fn delete_session(conn: &Connection, hash: &str) -> StoreResult<()> {
    execute(
        conn,
        sql::DELETE_CONSOLE_SESSIONS_BY_ID_HASH.sqlite(),
        params![hash],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn delete_admin_sessions(
    conn: &Connection,
    org: OrgId,
    admin: AdminId,
) -> StoreResult<u64> {
    let n = execute(
        conn,
        "DELETE FROM console_sessions WHERE org_id = ? AND admin_id = ?",
        params![org.to_string(), admin.to_string()],
    )
    .map_err(backend)?;
    Ok(n as u64)
}

pub(crate) fn failed_sign_ins(
    conn: &Connection,
    key: &str,
    now: OffsetDateTime,
    window: Duration,
) -> StoreResult<u32> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM console_sign_in_failures WHERE key = ? AND at > ?")
        .and_then(|mut s| s.query_row(params![key, ms(now - window)], |r| r.get(0)))
        .map_err(backend)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Runs on the writer thread, which runs one write at a time: the counts read here cannot
/// change before the inserts, so concurrent reservations never pass a limit together.
pub(crate) fn reserve_sign_in_attempt(
    conn: &Connection,
    limits: &[SignInLimit],
    now: OffsetDateTime,
    window: Duration,
) -> StoreResult<SignInReservation> {
    for (index, limit) in limits.iter().enumerate() {
        // Forget what fell out of the window, so the table stays as small as the traffic.
        execute(
            conn,
            "DELETE FROM console_sign_in_failures WHERE key = ? AND at <= ?",
            params![limit.key, ms(now - window)],
        )
        .map_err(backend)?;
        if failed_sign_ins(conn, &limit.key, now, window)? >= limit.limit {
            return Ok(SignInReservation::Throttled { full: index });
        }
    }
    for limit in limits {
        execute(
            conn,
            "INSERT INTO console_sign_in_failures (key, at) VALUES (?, ?)",
            params![limit.key, ms(now)],
        )
        .map_err(backend)?;
    }
    Ok(SignInReservation::Allowed)
}

pub(crate) fn release_sign_in_attempt(
    conn: &Connection,
    key: &str,
    at: OffsetDateTime,
) -> StoreResult<()> {
    // One row: other attempts made at the same millisecond stay counted.
    execute(
        conn,
        "DELETE FROM console_sign_in_failures WHERE rowid = (SELECT rowid FROM console_sign_in_failures WHERE key = ? AND at = ? LIMIT 1)",
        params![key, ms(at)],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn clear_failed_sign_ins(conn: &Connection, key: &str) -> StoreResult<()> {
    execute(
        conn,
        sql::DELETE_CONSOLE_SIGN_IN_FAILURES_BY_KEY.sqlite(),
        params![key],
    )
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn create_admin(&self, admin: &AdminAccount) -> StoreResult<()> {
        let admin = admin.clone();
        self.engine.write(move |c| create_admin(c, &admin)).await
    }

    async fn admin_by_email(&self, org: OrgId, email: &str) -> StoreResult<Option<AdminAccount>> {
        let email = email.to_string();
        self.engine
            .read(move |c| admin_by_email(c, org, &email))
            .await
    }

    async fn admin_by_id(&self, org: OrgId, id: AdminId) -> StoreResult<Option<AdminAccount>> {
        self.engine.read(move |c| admin_by_id(c, org, id)).await
    }

    async fn set_admin_password(&self, org: OrgId, id: AdminId, hash: &str) -> StoreResult<()> {
        let hash = hash.to_string();
        self.engine
            .write(move |c| set_admin_password(c, org, id, &hash))
            .await
    }

    async fn record_admin_sign_in(
        &self,
        org: OrgId,
        id: AdminId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.engine
            .write(move |c| record_admin_sign_in(c, org, id, at))
            .await
    }

    async fn create_admin_invite(&self, invite: &AdminInvite) -> StoreResult<()> {
        let invite = invite.clone();
        self.engine.write(move |c| create_invite(c, &invite)).await
    }

    async fn admin_invite_by_hash(&self, token_hash: &str) -> StoreResult<Option<AdminInvite>> {
        let token_hash = token_hash.to_string();
        self.engine
            .read(move |c| invite_by_hash(c, &token_hash))
            .await
    }

    async fn take_admin_invite(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AdminInvite>> {
        let token_hash = token_hash.to_string();
        self.engine
            .write(move |c| take_invite(c, &token_hash, now))
            .await
    }

    async fn create_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        let session = session.clone();
        self.engine
            .write(move |c| create_session(c, &session))
            .await
    }

    async fn console_session_by_hash(&self, id_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        let id_hash = id_hash.to_string();
        self.engine
            .read(move |c| session_by_hash(c, &id_hash))
            .await
    }

    async fn touch_console_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| touch_session(c, &id_hash, now, idle_expires_at))
            .await
    }

    async fn delete_console_session(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_string();
        self.engine
            .write(move |c| delete_session(c, &id_hash))
            .await
    }

    async fn delete_admin_console_sessions(&self, org: OrgId, admin: AdminId) -> StoreResult<u64> {
        self.engine
            .write(move |c| delete_admin_sessions(c, org, admin))
            .await
    }

    async fn reserve_sign_in_attempt(
        &self,
        limits: &[SignInLimit],
        now: OffsetDateTime,
        window: time::Duration,
    ) -> StoreResult<SignInReservation> {
        let limits = limits.to_vec();
        self.engine
            .write(move |c| reserve_sign_in_attempt(c, &limits, now, window))
            .await
    }

    async fn release_sign_in_attempt(&self, key: &str, at: OffsetDateTime) -> StoreResult<()> {
        let key = key.to_string();
        self.engine
            .write(move |c| release_sign_in_attempt(c, &key, at))
            .await
    }

    async fn clear_failed_sign_ins(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.engine
            .write(move |c| clear_failed_sign_ins(c, &key))
            .await
    }
}
