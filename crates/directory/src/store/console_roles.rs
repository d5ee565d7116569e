//! Who administers the organization (see `crate::console_roles`): the admins page, the link from
//! an admin to the directory user they sign in as, the admin group and the admin role.

use super::StoreResult;
use crate::ids::{AdminId, GroupId, OrgId, UserId};
use crate::model::AdminAccount;
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait ConsoleRoleStore: Send + Sync {
    /// The organization's admins, oldest first (a handful: the admins page lists them all).
    async fn list_admins(&self, org: OrgId) -> StoreResult<Vec<AdminAccount>>;
    /// Removes the admin with their console sessions and pending invitations, together.
    /// `NotFound` if the admin is not in this organization.
    async fn delete_admin(&self, org: OrgId, id: AdminId) -> StoreResult<()>;
    /// Links the admin to the directory user they sign in as through SAML. `NotFound` if the
    /// admin is not in this organization; `Conflict("user")` when another admin has the user.
    async fn link_admin_user(&self, org: OrgId, id: AdminId, user: UserId) -> StoreResult<()>;
    async fn admin_by_user(&self, org: OrgId, user: UserId) -> StoreResult<Option<AdminAccount>>;
    /// The group whose direct members are admins, if one is chosen.
    async fn admin_group(&self, org: OrgId) -> StoreResult<Option<GroupId>>;
    /// Chooses the admin group, or with `None` clears it.
    async fn set_admin_group(
        &self,
        org: OrgId,
        group: Option<GroupId>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Grants the admin role to a user of the organization; granting twice is no error.
    async fn grant_admin_role(
        &self,
        org: OrgId,
        user: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Takes the role back; returns whether the user had it.
    async fn revoke_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool>;
    /// The users granted the role directly, oldest grant first.
    async fn admin_role_users(&self, org: OrgId) -> StoreResult<Vec<UserId>>;
    /// Whether the user exists, is active, and is granted the role or is a direct member of
    /// the admin group. Point lookups only: it runs on every request of an SSO console session.
    async fn holds_admin_role(&self, org: OrgId, user: UserId) -> StoreResult<bool>;
    /// Ends the console sessions opened through SAML as this user; returns how many there were.
    async fn delete_user_console_sessions(&self, org: OrgId, user: UserId) -> StoreResult<u64>;
}
