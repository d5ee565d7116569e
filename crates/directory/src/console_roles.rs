//! The admins page and admin roles: who administers an organization, and who may sign in to
//! its console through the organization's SAML SSO.
//!
//! The admin role is held by an active directory user who is a *direct* member of the
//! organization's admin group (a SCIM-managed group: the IdP decides who is in it; nested
//! groups do not count, so the check stays one membership lookup) or a local user granted the
//! role here. A console session opened through SAML is checked against the role on every
//! request (see [`ConsoleService::session`]).

use crate::console::{ConsoleContext, ConsoleService, ConsoleSignIn};
use crate::error::Error;
use crate::ids::{AdminId, GroupId, UserId};
use crate::model::{
    Actor, AdminAccount, AuditEvent, GroupRecord, ManagedBy, Organization, UserRecord,
};
use crate::query::{IndexKey, StoreQuery};
use crate::store::StoreError;

/// Longer names cannot be a group's displayName or a userName worth looking up.
const MAX_NAME_BYTES: usize = 512;
/// Groups sharing a displayName considered before giving up.
const SAME_NAME_LIMIT: u64 = 20;

/// The organization's admin roles as the admins page shows them.
#[derive(Debug, Clone, Default)]
pub struct AdminRoles {
    /// The admin group, unless none is chosen (or it was deleted since).
    pub group: Option<GroupRecord>,
    /// The local users granted the role, oldest grant first.
    pub users: Vec<UserRecord>,
}

/// How a console sign-in through SAML ended, when the directory itself did not fail.
#[derive(Debug)]
pub enum SsoConsoleOutcome {
    SignedIn(Box<ConsoleSignIn>),
    /// The person signed in to the organization but is no admin of it: the message says why
    /// and what to ask for.
    NotAdmin(String),
}

/// Whether a group's membership is the IdP's to decide: SCIM-made or handed over to SCIM.
pub fn scim_managed(group: &GroupRecord) -> bool {
    group.managed_by == ManagedBy::Scim || group.scim_visible
}

/// The address an SSO admin account is filed under: the userName when it is an email (as
/// Okta sends it), else the user's first email, else the userName.
fn account_email(user: &UserRecord) -> String {
    if user.user_name.contains('@') {
        return user.user_name.trim().to_lowercase();
    }
    user.emails
        .first()
        .cloned()
        .unwrap_or_else(|| user.user_name.trim().to_lowercase())
}

fn checked_name<'a>(raw: &'a str, what: &str) -> Result<&'a str, Error> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid(format!("type the {what}")));
    }
    if name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "the {what} must be one line of at most {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(name)
}

impl ConsoleService {
    /// The organization's admins, oldest first.
    pub async fn list_admins(&self, org: &Organization) -> Result<Vec<AdminAccount>, Error> {
        self.store.list_admins(org.id).await.map_err(Error::from)
    }

    /// Removes another admin of the signed-in admin's organization, with their console
    /// sessions and pending invitations. An unknown id (or another organization's) is
    /// `NotFound`; removing yourself is refused.
    pub async fn remove_admin(
        &self,
        ctx: &ConsoleContext,
        id: &str,
    ) -> Result<AdminAccount, Error> {
        let not_found = || Error::not_found("there is no such admin in this organization");
        let id: AdminId = id.parse().map_err(|_| not_found())?;
        let org = &ctx.organization;
        let admin = self
            .store
            .admin_by_id(org.id, id)
            .await?
            .ok_or_else(not_found)?;
        if admin.id == ctx.admin.id {
            return Err(Error::conflict(
                "you cannot remove yourself: ask another admin to do it",
            ));
        }
        match self.store.delete_admin(org.id, admin.id).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => return Err(not_found()),
            Err(e) => return Err(Error::from(e)),
        }
        self.audit_role(
            ctx,
            "console.admin.remove",
            "console_admin",
            Some(admin.id.to_string()),
            200,
            format!(
                "removed admin {} and ended their console sessions",
                admin.email
            ),
        )
        .await;
        Ok(admin)
    }

    /// The admin group and the local users granted the role.
    pub async fn admin_roles(&self, org: &Organization) -> Result<AdminRoles, Error> {
        let group = match self.store.admin_group(org.id).await? {
            Some(id) => self.store.get_group(org.id, id).await?,
            None => None,
        };
        let ids = self.store.admin_role_users(org.id).await?;
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(u) = self.store.get_user(org.id, id).await? {
                users.push(u);
            }
        }
        Ok(AdminRoles { group, users })
    }

    /// Makes the direct members of the SCIM-managed group named `display_name` admins. A
    /// local group is refused (its members are edited in this console, so anyone able to edit
    /// it would choose the admins), as is an unknown or ambiguous name.
    pub async fn set_admin_group(
        &self,
        ctx: &ConsoleContext,
        display_name: &str,
    ) -> Result<GroupRecord, Error> {
        let org = &ctx.organization;
        let name = checked_name(display_name, "group's name")?;
        let lower = name.to_lowercase();
        let query = StoreQuery {
            limit: Some(SAME_NAME_LIMIT),
            ..StoreQuery::all(Some(IndexKey::DisplayNameLower(lower.clone())))
        };
        let found = self.store.query_groups(org.id, false, &query).await?;
        let same: Vec<GroupRecord> = found
            .items
            .into_iter()
            .filter(|g| g.display_name.to_lowercase() == lower)
            .collect();
        let refuse = |detail: String| async {
            self.audit_role(
                ctx,
                "console.admin_group.set",
                "group",
                None,
                400,
                detail.clone(),
            )
            .await;
            Err(Error::invalid(detail))
        };
        let managed: Vec<&GroupRecord> = same.iter().filter(|g| scim_managed(g)).collect();
        let group = match (managed.as_slice(), same.is_empty()) {
            ([one], _) => (*one).clone(),
            ([], true) => {
                return refuse(format!(
                    "there is no group named {name} in {}: type the name your identity provider pushes (in Okta: Push Groups), once it has pushed it",
                    org.name
                ))
                .await
            }
            ([], false) => {
                return refuse(format!(
                    "the group {name} is a local group: its members are changed in this console, so it cannot grant the admin role. Choose a group your identity provider manages over SCIM"
                ))
                .await
            }
            (_, _) => {
                return refuse(format!(
                    "several SCIM-managed groups are named {name}: rename one in your identity provider"
                ))
                .await
            }
        };
        let now = self.clock.now();
        self.store
            .set_admin_group(org.id, Some(group.id), now)
            .await?;
        self.audit_role(
            ctx,
            "console.admin_group.set",
            "group",
            Some(group.id.to_string()),
            200,
            format!(
                "the direct members of group {} are now admins",
                group.display_name
            ),
        )
        .await;
        Ok(group)
    }

    /// No group grants the admin role any more; its members' SSO console sessions end at
    /// their next request.
    pub async fn clear_admin_group(&self, ctx: &ConsoleContext) -> Result<(), Error> {
        let org = &ctx.organization;
        let previous = self.store.admin_group(org.id).await?;
        self.store
            .set_admin_group(org.id, None, self.clock.now())
            .await?;
        self.audit_role(
            ctx,
            "console.admin_group.clear",
            "group",
            previous.map(|g: GroupId| g.to_string()),
            200,
            "no group grants the admin role any more".into(),
        )
        .await;
        Ok(())
    }

    /// Grants the admin role to the local user with this userName. Externally Managed users
    /// get it through the admin group instead: the IdP decides about them.
    pub async fn grant_admin_role(
        &self,
        ctx: &ConsoleContext,
        user_name: &str,
    ) -> Result<UserRecord, Error> {
        let org = &ctx.organization;
        let name = checked_name(user_name, "userName")?;
        let query = StoreQuery {
            limit: Some(1),
            ..StoreQuery::all(Some(IndexKey::UserNameLower(
                crate::identity::user_name_key(name),
            )))
        };
        let user = self
            .store
            .query_users(org.id, &query)
            .await?
            .items
            .into_iter()
            .next();
        let refusal = match &user {
            None => Some(format!("there is no user with userName {name} in {}", org.name)),
            Some(u) if u.managed_by == ManagedBy::Scim => Some(format!(
                "the user {} is Externally Managed: your identity provider decides about them. Add them to the admin group in your identity provider instead",
                u.user_name
            )),
            Some(u) if !u.active => Some(format!(
                "the user {} is deactivated: reactivate them first",
                u.user_name
            )),
            Some(_) => None,
        };
        if let Some(detail) = refusal {
            self.audit_role(
                ctx,
                "console.admin_role.grant",
                "user",
                None,
                400,
                detail.clone(),
            )
            .await;
            return Err(Error::invalid(detail));
        }
        let Some(user) = user else {
            return Err(Error::internal("the user vanished"));
        };
        self.store
            .grant_admin_role(org.id, user.id, self.clock.now())
            .await?;
        self.audit_role(
            ctx,
            "console.admin_role.grant",
            "user",
            Some(user.id.to_string()),
            200,
            format!("granted the admin role to {}", user.user_name),
        )
        .await;
        Ok(user)
    }

    /// Takes the role back from a user it was granted to. Their SSO console sessions end now
    /// unless the admin group still makes them an admin.
    pub async fn revoke_admin_role(
        &self,
        ctx: &ConsoleContext,
        user_id: &str,
    ) -> Result<(), Error> {
        let not_found = || Error::not_found("this user does not hold a granted admin role");
        let org = &ctx.organization;
        let user: UserId = user_id.parse().map_err(|_| not_found())?;
        if !self.store.revoke_admin_role(org.id, user).await? {
            return Err(not_found());
        }
        if !self.store.holds_admin_role(org.id, user).await? {
            self.store
                .delete_user_console_sessions(org.id, user)
                .await?;
        }
        self.audit_role(
            ctx,
            "console.admin_role.revoke",
            "user",
            Some(user.to_string()),
            200,
            "revoked the admin role".into(),
        )
        .await;
        Ok(())
    }

    /// Opens a console session for the person a SAML sign-in just signed in, if they hold the
    /// admin role. Their admin account is the one linked to the user, else the one with their
    /// email (linked now), else a new one without a password. Every outcome is audited.
    pub async fn sso_sign_in(
        &self,
        org: &Organization,
        user: &UserRecord,
    ) -> Result<SsoConsoleOutcome, Error> {
        let email = account_email(user);
        let holds = user.active && self.store.holds_admin_role(org.id, user.id).await?;
        if !holds {
            let group = match self.store.admin_group(org.id).await? {
                Some(g) => self.store.get_group(org.id, g).await?,
                None => None,
            };
            let ask = match group {
                Some(g) => format!(
                    "ask an admin to add you to the admin group {}",
                    g.display_name
                ),
                None => "ask an admin to grant you the admin role on the Admins page".to_string(),
            };
            let message = format!(
                "{email} signed in but is not an admin of {}: {ask}.",
                org.name
            );
            self.record_sso(org, None, user, 403, &message).await;
            return Ok(SsoConsoleOutcome::NotAdmin(message));
        }
        let admin = match self.account_for(org, user, &email).await? {
            Ok(a) => a,
            Err(message) => {
                self.record_sso(org, None, user, 409, &message).await;
                return Ok(SsoConsoleOutcome::NotAdmin(message));
            }
        };
        let now = self.clock.now();
        self.store
            .record_admin_sign_in(org.id, admin.id, now)
            .await?;
        self.record_sso(org, Some(admin.id), user, 200, "signed in through SAML")
            .await;
        let mut admin = admin;
        admin.last_sign_in_at = Some(now);
        let signed_in = self
            .open_session(org.clone(), admin, now, Some(user.id))
            .await?;
        Ok(SsoConsoleOutcome::SignedIn(Box::new(signed_in)))
    }

    /// The admin account of an SSO admin, made or linked on first sign-in. `Ok(Err(_))`: the
    /// account with their email belongs to another directory user.
    async fn account_for(
        &self,
        org: &Organization,
        user: &UserRecord,
        email: &str,
    ) -> Result<Result<AdminAccount, String>, Error> {
        if let Some(a) = self.store.admin_by_user(org.id, user.id).await? {
            return Ok(Ok(a));
        }
        let taken = || {
            format!(
                "the admin account {email} belongs to another user of {}: ask an admin to remove it, then sign in again",
                org.name
            )
        };
        for _ in 0..2 {
            match self.store.admin_by_email(org.id, email).await? {
                Some(a) if a.user_id.is_some_and(|u| u != user.id) => return Ok(Err(taken())),
                Some(mut a) => {
                    match self.store.link_admin_user(org.id, a.id, user.id).await {
                        Ok(()) => {}
                        Err(StoreError::Conflict(_)) => return Ok(Err(taken())),
                        Err(e) => return Err(Error::from(e)),
                    }
                    a.user_id = Some(user.id);
                    return Ok(Ok(a));
                }
                None => {
                    let fresh = AdminAccount {
                        id: AdminId::new_random(),
                        org_id: org.id,
                        email: email.to_string(),
                        password_hash: None,
                        created_at: self.clock.now(),
                        last_sign_in_at: None,
                        user_id: Some(user.id),
                    };
                    match self.store.create_admin(&fresh).await {
                        Ok(()) => return Ok(Ok(fresh)),
                        // Made concurrently (same email or same user): read it again.
                        Err(StoreError::Conflict(_)) => {
                            if let Some(a) = self.store.admin_by_user(org.id, user.id).await? {
                                return Ok(Ok(a));
                            }
                        }
                        Err(e) => return Err(Error::from(e)),
                    }
                }
            }
        }
        Err(Error::internal(
            "the admin account kept changing during sign-in",
        ))
    }

    async fn record_sso(
        &self,
        org: &Organization,
        admin: Option<AdminId>,
        user: &UserRecord,
        status: u16,
        detail: &str,
    ) {
        self.audit
            .record(AuditEvent {
                org_id: org.id,
                at: self.clock.now(),
                actor_kind: "user".into(),
                actor_id: Some(user.id.to_string()),
                operation: "console.signin.sso".into(),
                resource_type: Some("console_admin".into()),
                resource_id: admin.map(|a| a.to_string()),
                status,
                detail: Some(format!("{}: {detail}", user.user_name)),
                request_id: None,
            })
            .await;
    }

    async fn audit_role(
        &self,
        ctx: &ConsoleContext,
        operation: &str,
        resource_type: &str,
        resource_id: Option<String>,
        status: u16,
        detail: String,
    ) {
        let actor = Actor::ConsoleAdmin(ctx.admin.id);
        self.audit
            .record(AuditEvent {
                org_id: ctx.organization.id,
                at: self.clock.now(),
                actor_kind: actor.kind().into(),
                actor_id: actor.id(),
                operation: operation.into(),
                resource_type: Some(resource_type.into()),
                resource_id,
                status,
                detail: Some(detail),
                request_id: None,
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_one_bounded_line() {
        assert_eq!(checked_name("  IT-Admins ", "x").ok(), Some("IT-Admins"));
        assert!(checked_name("   ", "x").is_err());
        assert!(checked_name("a\nb", "x").is_err());
        assert!(checked_name(&"a".repeat(MAX_NAME_BYTES + 1), "x").is_err());
    }
}
