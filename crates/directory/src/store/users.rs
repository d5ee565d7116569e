//! Users: SCIM's and the console's, with their emails and (read back) their groups.

use super::StoreResult;
use crate::ids::{GroupId, OrgId, UserId};
use crate::model::{Page, UserRecord};
use crate::query::{ScanQuery, StoreQuery, UserListPage, UserListQuery};
use async_trait::async_trait;

/// A read-modify-write of a user, run by the store inside its write transaction with the
/// row held, so concurrent changes queue instead of failing. Returns the next record (the
/// function sets its version), or refuses with a domain error. Owned and `'static`: a store
/// may run it on another thread (SQLite's writer thread).
pub type UserChange =
    Box<dyn FnOnce(&UserRecord) -> Result<UserRecord, crate::Error> + Send + 'static>;

/// A group a user belongs to: id, displayName, whether SCIM sees it.
pub type UserGroup = (GroupId, String, bool);

/// A user read by a scan: its insertion position (`seq`), the record, and its groups when
/// they were asked for.
pub type ScannedUser = (i64, UserRecord, Vec<UserGroup>);

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Conflict("userName")` when the lower-cased userName is taken in the org.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn get_user(&self, org: OrgId, id: UserId) -> StoreResult<Option<UserRecord>>;
    /// Writes `user` if the stored version is still `expected_version`; the caller has
    /// already bumped `user.version`.
    async fn update_user(&self, user: &UserRecord, expected_version: i64) -> StoreResult<()>;
    /// Reads the user, applies `change`, and writes the result, as one transaction during
    /// which no other change to this user can interleave. `NotFound` if absent.
    async fn modify_user(
        &self,
        org: OrgId,
        id: UserId,
        change: UserChange,
    ) -> StoreResult<UserRecord>;
    /// A user and, when `with_groups`, the groups they belong to, in one round trip where the
    /// backend can.
    async fn get_user_with_groups(
        &self,
        org: OrgId,
        id: UserId,
        with_groups: bool,
    ) -> StoreResult<Option<(UserRecord, Vec<UserGroup>)>>;
    /// The users of the organization among `ids` (unknown ids are left out), in no
    /// particular order: one round trip where the backend can.
    async fn users_by_ids(&self, org: OrgId, ids: &[UserId]) -> StoreResult<Vec<UserRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = self.get_user(org, *id).await? {
                out.push(u);
            }
        }
        Ok(out)
    }
    /// Removes the user and their memberships.
    async fn delete_user(&self, org: OrgId, id: UserId) -> StoreResult<()>;
    async fn query_users(&self, org: OrgId, query: &StoreQuery) -> StoreResult<Page<UserRecord>>;
    /// A page of users and, when `with_groups`, each one's groups: in one round trip where
    /// the backend can (every IdP lookup by userName is such a page).
    async fn query_users_with_groups(
        &self,
        org: OrgId,
        query: &StoreQuery,
        with_groups: bool,
    ) -> StoreResult<Page<(UserRecord, Vec<UserGroup>)>>;
    /// One chunk of a keyset scan of the organization's users ([`ScanQuery`]): at most
    /// `limit` users after `after_seq` matching the key, ascending by seq, each with its seq
    /// and (when `with_groups`) its groups. Memory and work per call are O(limit) rows
    /// (plus, for a key no index serves in seq order, a walk of the seq index). Never on an
    /// async worker thread of the caller, never on a writer.
    async fn scan_users(
        &self,
        org: OrgId,
        query: &ScanQuery,
        with_groups: bool,
    ) -> StoreResult<Vec<ScannedUser>>;
    /// The groups a user belongs to: (id, displayName, scim_visible).
    async fn user_groups(
        &self,
        org: OrgId,
        user: UserId,
    ) -> StoreResult<Vec<(GroupId, String, bool)>>;
    /// A page of the console's user list, ascending by seq, each user with its seq. With
    /// `before_seq` the rows are the `limit` just before it (still returned ascending). Every
    /// combination of filters is served by an index: a page costs O(limit) without a prefix,
    /// O(users matching the prefix) with a narrow one. A broad prefix (many matches) walks the
    /// users in seq order; with `scan_limit` it examines at most that many users past the
    /// cursor, and when it stops there before the page is full `searched_to` says where.
    async fn list_users_page(&self, org: OrgId, query: &UserListQuery)
        -> StoreResult<UserListPage>;
}
