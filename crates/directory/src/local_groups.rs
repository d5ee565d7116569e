//! Groups as the console and the admin API see them: every group of the organization, SCIM's
//! and local ones. Local groups are created, renamed and their members changed here; a group
//! the IdP manages (SCIM-created or linked) or one handed over to it is read-only, and every
//! change is refused with the same reason on every surface.
//!
//! Pages are keyset pages (a cursor, never an offset), so a page costs O(page) however many
//! groups the organization has or members a group has.

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::{Error, ErrorKind};
use crate::ids::{GroupId, UserId};
use crate::model::{
    Actor, AuditEvent, GroupRecord, ManagedBy, Member, MembershipChange, Organization,
};
use crate::query::{IndexKey, StoreQuery};
use crate::store::{Store, StoreError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use scim::schema::ResourceKind;
use serde_json::json;
use std::sync::Arc;

/// Groups per page of the list.
pub const GROUPS_PAGE: u32 = 50;
/// Members per page of a group.
pub const MEMBERS_PAGE: u32 = 50;
/// The most a caller may ask for in one page.
pub const MAX_PAGE: u32 = 200;
pub const MAX_NAME_CHARS: usize = 256;
/// People added or removed in one request at most: each is one indexed lookup.
pub const MAX_MEMBERS_PER_CHANGE: usize = 100;

/// Why a SCIM-managed group cannot change here: shown by the console and the API alike.
pub const SCIM_MANAGED_REASON: &str = "This group is managed by your identity provider (SCIM): its name and members change only there. Add or remove people in your identity provider (in Okta: the group, then Push Groups) and push the group again.";
/// Why a handed-over group cannot change here.
pub const HANDED_OVER_REASON: &str = "This group was handed over to your identity provider: SCIM can see it, and its name and members change only there. Link it in your identity provider (in Okta: Push Groups, link existing group) and manage it there.";

/// Where a group comes from, as the console marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSource {
    /// Created or linked by the IdP over SCIM: Externally Managed.
    Scim,
    /// A local group handed over to the IdP, not yet written by it over SCIM.
    HandedOver,
    /// Made in the console or the admin API; SCIM does not see it.
    Local,
}

impl GroupSource {
    pub fn of(g: &GroupRecord) -> Self {
        match (g.managed_by, g.scim_visible) {
            (ManagedBy::Scim, _) => GroupSource::Scim,
            (ManagedBy::Local, true) => GroupSource::HandedOver,
            (ManagedBy::Local, false) => GroupSource::Local,
        }
    }

    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupSource::Scim => "scim",
            GroupSource::HandedOver => "handed_over",
            GroupSource::Local => "local",
        }
    }

    /// Why the group is read-only here, or `None` when it is not.
    pub fn read_only_reason(self) -> Option<&'static str> {
        match self {
            GroupSource::Scim => Some(SCIM_MANAGED_REASON),
            GroupSource::HandedOver => Some(HANDED_OVER_REASON),
            GroupSource::Local => None,
        }
    }
}

/// A page of groups and the cursor of the next one, if there is more.
#[derive(Debug, Clone)]
pub struct GroupPage {
    pub items: Vec<GroupRecord>,
    pub next: Option<String>,
}

/// A page of members and the cursor of the next one, if there is more.
#[derive(Debug, Clone)]
pub struct MemberPage {
    pub items: Vec<Member>,
    pub next: Option<String>,
}

#[derive(Clone)]
pub struct LocalGroupService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
}

fn not_found() -> Error {
    Error::not_found("there is no such group in this organization")
}

/// A group id as given in a URL: anything that is not one is as unknown as any other.
fn parse_group_id(id: &str) -> Result<GroupId, Error> {
    id.trim().parse::<GroupId>().map_err(|_| not_found())
}

fn clamp_limit(limit: Option<u32>, default: u32) -> u32 {
    limit.unwrap_or(default).clamp(1, MAX_PAGE)
}

/// The group cursor: the last group's id and lower-cased name, opaque to callers.
fn encode_group_cursor(g: &GroupRecord) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}{}", g.id, g.display_name.to_lowercase()))
}

fn decode_group_cursor(c: &str) -> Result<(String, GroupId), Error> {
    let bad =
        || Error::invalid("the cursor is not one this server gave; start from the first page");
    let bytes = URL_SAFE_NO_PAD.decode(c.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    if text.len() < 36 || !text.is_char_boundary(36) {
        return Err(bad());
    }
    let (id, name) = text.split_at(36);
    let id = id.parse::<GroupId>().map_err(|_| bad())?;
    if name.chars().any(char::is_control) {
        return Err(bad());
    }
    Ok((name.to_string(), id))
}

/// A display name the directory accepts: trimmed, not blank, one line, bounded.
pub fn validate_name(raw: &str) -> Result<String, Error> {
    if raw.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "a group name is at most {MAX_NAME_CHARS} characters, on one line"
        )));
    }
    let name = crate::identity::clean_text(raw, "displayName")?;
    if name.is_empty() {
        return Err(Error::invalid("give the group a name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(format!(
            "a group name is at most {MAX_NAME_CHARS} characters, on one line"
        )));
    }
    Ok(name)
}

/// Commas, spaces and new lines separate the people of a form field.
pub fn split_people(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn writable(g: &GroupRecord) -> Result<(), Error> {
    match GroupSource::of(g).read_only_reason() {
        Some(reason) => Err(Error::conflict(reason)),
        None => Ok(()),
    }
}

impl LocalGroupService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, audit: AuditLog) -> Self {
        LocalGroupService {
            store,
            clock,
            audit,
        }
    }

    async fn record(
        &self,
        org: &Organization,
        actor: &Actor,
        operation: &str,
        group: Option<GroupId>,
        outcome: Result<Option<String>, &Error>,
    ) {
        let (status, detail) = match outcome {
            Ok(d) => (200, d),
            Err(e) if e.kind == ErrorKind::Internal => return,
            Err(e) => (e.status(), Some(e.detail.clone())),
        };
        self.audit
            .record(AuditEvent {
                org_id: org.id,
                at: self.clock.now(),
                actor_kind: actor.kind().into(),
                actor_id: actor.id(),
                operation: operation.into(),
                resource_type: Some("Group".into()),
                resource_id: group.map(|g| g.to_string()),
                status,
                detail,
                request_id: None,
            })
            .await;
    }

    /// Records the outcome of a change and hands it back.
    async fn audited<T>(
        &self,
        org: &Organization,
        actor: &Actor,
        operation: &str,
        group: Option<GroupId>,
        summary: impl FnOnce(&T) -> Option<String>,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        match &result {
            Ok(v) => {
                self.record(org, actor, operation, group, Ok(summary(v)))
                    .await
            }
            Err(e) => self.record(org, actor, operation, group, Err(e)).await,
        }
        result
    }

    /// A page of the organization's groups by name, those whose name starts with `search`
    /// (case-insensitive), after `cursor`.
    pub async fn list(
        &self,
        org: &Organization,
        search: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<GroupPage, Error> {
        let limit = clamp_limit(limit, GROUPS_PAGE);
        let prefix = search
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
        // Names are one line: a search with control characters matches nothing (and a NUL
        // is no text PostgreSQL accepts).
        if prefix
            .as_ref()
            .is_some_and(|p| p.chars().count() > MAX_NAME_CHARS || p.chars().any(char::is_control))
        {
            return Ok(GroupPage {
                items: Vec::new(),
                next: None,
            });
        }
        let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(decode_group_cursor(c)?),
            None => None,
        };
        // One more than the page tells whether there is a next page.
        let mut items = self
            .store
            .list_groups_after(org.id, prefix.as_deref(), after.as_ref(), limit + 1)
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(encode_group_cursor)
        } else {
            None
        };
        Ok(GroupPage { items, next })
    }

    /// The group `id` of the organization; `NotFound` for anything else.
    pub async fn get(&self, org: &Organization, id: &str) -> Result<GroupRecord, Error> {
        let gid = parse_group_id(id)?;
        self.store
            .get_group(org.id, gid)
            .await?
            .ok_or_else(not_found)
    }

    /// A page of the group's members in id order, after the member id `cursor`.
    pub async fn members(
        &self,
        org: &Organization,
        group: &GroupRecord,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<MemberPage, Error> {
        let limit = clamp_limit(limit, MEMBERS_PAGE);
        let after = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Some(
                c.parse::<uuid::Uuid>()
                    .map_err(|_| {
                        Error::invalid(
                            "the cursor is not one this server gave; start from the first page",
                        )
                    })?
                    .hyphenated()
                    .to_string(),
            ),
            None => None,
        };
        let mut items = self
            .store
            .group_members_after(org.id, group.id, after.as_deref(), limit + 1)
            .await?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|m| m.id.clone())
        } else {
            None
        };
        Ok(MemberPage { items, next })
    }

    /// The users that `people` name (an id, a userName or an email address each), in order,
    /// without repeats. Every one must name exactly one user of the organization.
    pub async fn resolve_people(
        &self,
        org: &Organization,
        people: &[String],
    ) -> Result<Vec<UserId>, Error> {
        if people.len() > MAX_MEMBERS_PER_CHANGE {
            return Err(Error::invalid(format!(
                "add at most {MAX_MEMBERS_PER_CHANGE} people at a time"
            )));
        }
        let mut out: Vec<UserId> = Vec::with_capacity(people.len());
        for raw in people {
            let who = raw.trim();
            if who.is_empty() {
                continue;
            }
            let id = self.resolve_one(org, who).await?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    async fn resolve_one(&self, org: &Organization, who: &str) -> Result<UserId, Error> {
        let unknown = || {
            Error::invalid(format!(
                "no user of this organization has the userName or email address '{}'",
                who.chars().take(MAX_NAME_CHARS).collect::<String>()
            ))
        };
        if who.len() > 1024 || who.chars().any(char::is_control) {
            return Err(unknown());
        }
        if let Ok(id) = who.parse::<UserId>() {
            if self.store.get_user(org.id, id).await?.is_some() {
                return Ok(id);
            }
        }
        let lower = crate::identity::user_name_key(who);
        let lookup = |key: IndexKey| StoreQuery {
            limit: Some(2),
            ..StoreQuery::all(Some(key))
        };
        let by_name = self
            .store
            .query_users(org.id, &lookup(IndexKey::UserNameLower(lower.clone())))
            .await?;
        if let Some(u) = by_name.items.first() {
            return Ok(u.id);
        }
        if !lower.contains('@') {
            return Err(unknown());
        }
        let by_email = self
            .store
            .query_users(org.id, &lookup(IndexKey::EmailLower(lower)))
            .await?;
        match by_email.items.as_slice() {
            [one] => Ok(one.id),
            [] => Err(unknown()),
            _ => Err(Error::invalid(format!(
                "several users have the email address '{who}'; add them by userName"
            ))),
        }
    }

    /// Creates a local group (SCIM does not see it) with `people` as its first members.
    pub async fn create(
        &self,
        org: &Organization,
        name: &str,
        people: &[String],
        actor: &Actor,
    ) -> Result<GroupRecord, Error> {
        let result = async {
            let name = validate_name(name)?;
            let members: Vec<String> = self
                .resolve_people(org, people)
                .await?
                .iter()
                .map(ToString::to_string)
                .collect();
            let doc = scim::resource::normalize(
                ResourceKind::Group,
                &json!({"schemas": [scim::urn::GROUP], "displayName": name}),
            )?;
            let now = self.clock.now();
            let mut group = GroupRecord {
                id: GroupId::new_random(),
                org_id: org.id,
                display_name: String::new(),
                external_id: None,
                doc,
                managed_by: ManagedBy::Local,
                scim_visible: false,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            group.reindex();
            self.store
                .insert_group(&group, &members)
                .await
                .map_err(|e| member_err(e, "a group with that name"))?;
            Ok(group)
        }
        .await;
        let id = result.as_ref().ok().map(|g| g.id);
        self.audited(
            org,
            actor,
            "group.create",
            id,
            |g: &GroupRecord| Some(format!("local group '{}'", g.display_name)),
            result,
        )
        .await
    }

    /// Applies `change` to a local group, refused (409, with the reason) when the group is
    /// the IdP's. The check runs inside the store's transaction, so a SCIM write that takes
    /// the group over meanwhile cannot be overwritten.
    async fn change(
        &self,
        org: &Organization,
        gid: GroupId,
        change: impl FnOnce(&GroupRecord) -> Result<(GroupRecord, Vec<MembershipChange>), Error>
            + Send
            + 'static,
    ) -> Result<GroupRecord, Error> {
        let now = self.clock.now();
        self.store
            .modify_group(
                org.id,
                gid,
                Box::new(move |current: &GroupRecord| {
                    let (mut next, changes) = change(current)?;
                    next.version = current.version + 1;
                    next.updated_at = now.max(current.updated_at);
                    Ok((next, changes))
                }),
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound => not_found(),
                other => member_err(other, "a group with that name"),
            })
    }

    pub async fn rename(
        &self,
        org: &Organization,
        id: &str,
        name: &str,
        actor: &Actor,
    ) -> Result<GroupRecord, Error> {
        let gid = parse_group_id(id);
        let result = async {
            let gid = gid.clone()?;
            let name = validate_name(name)?;
            self.change(org, gid, move |current| {
                writable(current)?;
                let mut next = current.clone();
                next.doc["displayName"] = json!(name);
                next.reindex();
                Ok((next, Vec::new()))
            })
            .await
        }
        .await;
        self.audited(
            org,
            actor,
            "group.rename",
            gid.ok(),
            |g: &GroupRecord| Some(format!("renamed to '{}'", g.display_name)),
            result,
        )
        .await
    }

    /// Adds the users `people` name; those already members stay. Returns how many were named.
    pub async fn add_members(
        &self,
        org: &Organization,
        id: &str,
        people: &[String],
        actor: &Actor,
    ) -> Result<(GroupRecord, usize), Error> {
        let gid = parse_group_id(id);
        let result = async {
            let gid = gid.clone()?;
            // A SCIM group is refused before anyone is looked up: the reason is what matters.
            let group = self.get(org, &gid.to_string()).await?;
            writable(&group)?;
            let users = self.resolve_people(org, people).await?;
            if users.is_empty() {
                return Err(Error::invalid(
                    "name at least one person to add, by userName or email address",
                ));
            }
            let ids: Vec<String> = users.iter().map(ToString::to_string).collect();
            let n = ids.len();
            let group = self
                .change(org, gid, move |current| {
                    writable(current)?;
                    Ok((current.clone(), vec![MembershipChange::Add(ids)]))
                })
                .await?;
            Ok((group, n))
        }
        .await;
        self.audited(
            org,
            actor,
            "group.members.add",
            gid.ok(),
            |(_, n): &(GroupRecord, usize)| Some(format!("{n} member(s) added")),
            result,
        )
        .await
    }

    /// Removes members by id; ids that are not members are ignored.
    pub async fn remove_members(
        &self,
        org: &Organization,
        id: &str,
        member_ids: &[String],
        actor: &Actor,
    ) -> Result<(GroupRecord, usize), Error> {
        let gid = parse_group_id(id);
        let result = async {
            let gid = gid.clone()?;
            if member_ids.len() > MAX_MEMBERS_PER_CHANGE {
                return Err(Error::invalid(format!(
                    "remove at most {MAX_MEMBERS_PER_CHANGE} members at a time"
                )));
            }
            let mut ids: Vec<String> = Vec::with_capacity(member_ids.len());
            for m in member_ids {
                let m = m
                    .trim()
                    .parse::<uuid::Uuid>()
                    .map_err(|_| Error::invalid(format!("'{}' is not a member id", m.trim())))?
                    .hyphenated()
                    .to_string();
                if !ids.contains(&m) {
                    ids.push(m);
                }
            }
            let n = ids.len();
            let group = self
                .change(org, gid, move |current| {
                    writable(current)?;
                    if ids.is_empty() {
                        return Err(Error::invalid("choose at least one member to remove"));
                    }
                    Ok((current.clone(), vec![MembershipChange::Remove(ids)]))
                })
                .await?;
            Ok((group, n))
        }
        .await;
        self.audited(
            org,
            actor,
            "group.members.remove",
            gid.ok(),
            |(_, n): &(GroupRecord, usize)| Some(format!("{n} member(s) removed")),
            result,
        )
        .await
    }

    /// Hands a local group over to the IdP: SCIM sees it from now on (so Push Groups can link
    /// it), and it is read-only here at once: the IdP owns its name and members. Its members
    /// stay until the IdP changes them. There is no way back from the console.
    pub async fn hand_over(
        &self,
        org: &Organization,
        id: &str,
        actor: &Actor,
    ) -> Result<GroupRecord, Error> {
        let gid = parse_group_id(id);
        let result = async {
            let gid = gid.clone()?;
            let group = self.get(org, &gid.to_string()).await?;
            writable(&group)?;
            // Push Groups links by name: two groups of that name visible to the IdP would
            // leave it to guess which one it links.
            let same_name = self
                .store
                .query_groups(
                    org.id,
                    true,
                    &StoreQuery {
                        limit: Some(1),
                        ..StoreQuery::all(Some(IndexKey::DisplayNameLower(
                            group.display_name.to_lowercase(),
                        )))
                    },
                )
                .await
                ?;
            if !same_name.items.is_empty() {
                return Err(Error::conflict(format!(
                    "your identity provider already sees a group named '{}': rename this one before handing it over",
                    group.display_name
                )));
            }
            self.change(org, gid, move |current| {
                writable(current)?;
                let mut next = current.clone();
                next.scim_visible = true;
                Ok((next, Vec::new()))
            })
            .await
        }
        .await;
        self.audited(
            org,
            actor,
            "group.handover",
            gid.ok(),
            |g: &GroupRecord| {
                Some(format!(
                    "'{}' handed over to the identity provider: visible to SCIM",
                    g.display_name
                ))
            },
            result,
        )
        .await
    }

    /// Deletes a local group and its memberships.
    pub async fn delete(&self, org: &Organization, id: &str, actor: &Actor) -> Result<(), Error> {
        let gid = parse_group_id(id);
        let result = async {
            let gid = gid.clone()?;
            let group = self.get(org, &gid.to_string()).await?;
            writable(&group)?;
            // The store has no conditional delete: a SCIM write between the check and the
            // delete is a window of one round trip, for a group SCIM could not see.
            self.store
                .delete_group(org.id, gid)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => not_found(),
                    other => Error::from(other),
                })
        }
        .await;
        self.audited(org, actor, "group.delete", gid.ok(), |_| None, result)
            .await
    }
}

fn member_err(e: StoreError, what: &str) -> Error {
    match e {
        StoreError::UnknownMember(m) => {
            Error::invalid(format!("{m} is no longer a user of this organization"))
        }
        StoreError::Conflict(_) => Error::conflict(format!("{what} already exists")),
        other => Error::from(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_odd_ones_are_refused() {
        let id = GroupId::new_random();
        let g = GroupRecord {
            id,
            org_id: crate::ids::OrgId::new_random(),
            display_name: "Ünïcode Group".into(),
            external_id: None,
            doc: json!({}),
            managed_by: ManagedBy::Local,
            scim_visible: false,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
            version: 1,
        };
        let c = encode_group_cursor(&g);
        assert_eq!(
            decode_group_cursor(&c).unwrap(),
            ("ünïcode group".into(), id)
        );
        for bad in ["", "!!", "YWJj", &URL_SAFE_NO_PAD.encode("x".repeat(40))] {
            assert_eq!(
                decode_group_cursor(bad).unwrap_err().kind,
                ErrorKind::Invalid
            );
        }
    }

    #[test]
    fn names_and_people() {
        assert_eq!(validate_name("  Sales ").unwrap(), "Sales");
        assert!(validate_name(" ").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert_eq!(
            split_people("a@x.com, b;c\nd  e"),
            ["a@x.com", "b", "c", "d", "e"]
        );
    }
}
