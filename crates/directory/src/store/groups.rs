//! Groups and their memberships.

use super::StoreResult;
use crate::ids::{GroupId, OrgId};
use crate::model::{GroupRecord, Member, MembershipChange, Page};
use crate::query::{ScanQuery, StoreQuery};
use async_trait::async_trait;
use std::collections::HashSet;

/// A read-modify-write of a group, as [`UserChange`](super::UserChange) is for a user: the next
/// record and the membership changes to apply, in order.
pub type GroupChange = Box<
    dyn FnOnce(&GroupRecord) -> Result<(GroupRecord, Vec<MembershipChange>), crate::Error>
        + Send
        + 'static,
>;

#[async_trait]
pub trait GroupStore: Send + Sync {
    /// Inserts the group and its initial members (each must be a user or group of the org).
    async fn insert_group(&self, group: &GroupRecord, members: &[String]) -> StoreResult<()>;
    async fn get_group(&self, org: OrgId, id: GroupId) -> StoreResult<Option<GroupRecord>>;
    async fn group_members(&self, org: OrgId, id: GroupId) -> StoreResult<Vec<Member>>;
    /// Writes the group row and applies membership changes in order, in one transaction,
    /// if the stored version is still `expected_version`. Cost: O(changed members).
    async fn update_group(
        &self,
        group: &GroupRecord,
        expected_version: i64,
        changes: &[MembershipChange],
    ) -> StoreResult<()>;
    /// Reads the group, applies `change`, writes the row and the membership changes, as one
    /// transaction during which no other change to this group can interleave. Members that
    /// name no user or group of the organization fail with `UnknownMember`.
    async fn modify_group(
        &self,
        org: OrgId,
        id: GroupId,
        change: GroupChange,
    ) -> StoreResult<GroupRecord>;
    /// Which of `ids` name a user or group of the organization: lets a caller leave out every
    /// unknown member of a request in one go instead of learning them one failed write at a time.
    async fn known_members(&self, org: OrgId, ids: &[String]) -> StoreResult<HashSet<String>>;
    async fn delete_group(&self, org: OrgId, id: GroupId) -> StoreResult<()>;
    /// Groups SCIM sees when `scim_only`, else all.
    async fn query_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        query: &StoreQuery,
    ) -> StoreResult<Page<GroupRecord>>;
    /// One chunk of a keyset scan of the organization's groups (SCIM-visible ones when
    /// `scim_only`), as
    /// [`UserStore::scan_users`](super::UserStore::scan_users): each with its seq.
    async fn scan_groups(
        &self,
        org: OrgId,
        scim_only: bool,
        query: &ScanQuery,
    ) -> StoreResult<Vec<(i64, GroupRecord)>>;
    /// A page of the organization's groups (SCIM-visible or not) in lower-cased displayName
    /// order, then id: those whose lower-cased name starts with `name_prefix`, after the
    /// (lower-cased name, id) `after`. One walk of the (org, name) index: O(page).
    async fn list_groups_after(
        &self,
        org: OrgId,
        name_prefix: Option<&str>,
        after: Option<&(String, GroupId)>,
        limit: u32,
    ) -> StoreResult<Vec<GroupRecord>>;
    /// Which of `ids` are members of the group, as members: one indexed lookup per id,
    /// whatever the group's size (a filter asking whether someone is a member). Ids that are
    /// no member id are simply not found.
    async fn group_members_among(
        &self,
        org: OrgId,
        id: GroupId,
        ids: &[String],
    ) -> StoreResult<Vec<Member>>;
    /// A page of a group's members in member-id order after the member id `after`: O(page)
    /// whatever the group's size. An unknown group has no members.
    async fn group_members_after(
        &self,
        org: OrgId,
        id: GroupId,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Member>>;
}
