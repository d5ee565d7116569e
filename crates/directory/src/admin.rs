//! Operator and IT-admin operations: organizations, SCIM tokens, operator keys, the audit log.
//! The command line and the `/api/v1/` JSON API both call these.

use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::error::Error;
use crate::ids::{AdminId, AdminKeyId, OrgId, TokenId, UserId};
use crate::model::{Actor, AdminKeyRecord, AuditEvent, Organization, ScimTokenRecord};
use crate::query::AuditQuery;
use crate::store::{Store, StoreError, StoredAuditEvent};
use crate::token::{self, DomainList};
use crate::token_cache::TokenCache;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A newly issued secret: shown once, then only its hash exists.
pub struct IssuedToken {
    pub record: ScimTokenRecord,
    pub secret: String,
}

#[derive(Clone)]
pub struct AdminService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    tokens: Arc<TokenCache>,
}

impl AdminService {
    /// `tokens` is the cache the SCIM service reads; token changes made here empty it.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        audit: AuditLog,
        tokens: Arc<TokenCache>,
    ) -> Self {
        AdminService {
            store,
            clock,
            audit,
            tokens,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    async fn record(
        &self,
        org: OrgId,
        actor: &Actor,
        operation: &str,
        resource: Option<String>,
        detail: Option<String>,
    ) {
        self.audit
            .record(AuditEvent {
                org_id: org,
                at: self.clock.now(),
                actor_kind: actor.kind().into(),
                actor_id: actor.id(),
                operation: operation.into(),
                resource_type: Some("token".into()).filter(|_| operation.starts_with("token")),
                resource_id: resource,
                status: 200,
                detail,
                request_id: None,
            })
            .await;
    }

    pub async fn create_org(&self, slug: &str, name: Option<&str>) -> Result<Organization, Error> {
        validate_slug(slug)?;
        let org = Organization {
            id: OrgId::new_random(),
            slug: slug.to_string(),
            name: name.unwrap_or(slug).trim().to_string(),
            created_at: self.clock.now(),
        };
        match self.store.create_org(&org).await {
            Ok(()) => Ok(org),
            Err(StoreError::Conflict(_)) => Err(Error::conflict(format!(
                "an organization with slug '{slug}' already exists"
            ))),
            Err(e) => Err(Error::from(e)),
        }
    }

    pub async fn org(&self, slug: &str) -> Result<Organization, Error> {
        self.store.org_by_slug(slug).await?.ok_or_else(|| {
            Error::not_found(format!(
                "no organization '{slug}'; create it with `portcullis org create {slug}`"
            ))
        })
    }

    pub async fn list_orgs(&self) -> Result<Vec<Organization>, Error> {
        self.store.list_orgs().await.map_err(Error::from)
    }

    pub async fn create_token(
        &self,
        org: &Organization,
        name: Option<&str>,
        domains: &[String],
        actor: &Actor,
    ) -> Result<IssuedToken, Error> {
        let domains = DomainList::parse(domains).map_err(Error::invalid)?;
        let secret = token::generate_secret("pcs");
        let record = ScimTokenRecord {
            id: TokenId::new_random(),
            org_id: org.id,
            name: name.unwrap_or("scim").trim().to_string(),
            prefix: token::prefix_of(&secret),
            hash: token::hash_secret(&secret),
            domains,
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.create_token(&record).await?;
        self.record(
            org.id,
            actor,
            "token.create",
            Some(record.id.to_string()),
            Some(format!("name {}, domains {}", record.name, record.domains)),
        )
        .await;
        Ok(IssuedToken { record, secret })
    }

    pub async fn list_tokens(&self, org: &Organization) -> Result<Vec<ScimTokenRecord>, Error> {
        self.store.list_tokens(org.id).await.map_err(Error::from)
    }

    pub async fn revoke_token(
        &self,
        org: &Organization,
        id: &str,
        actor: &Actor,
    ) -> Result<(), Error> {
        let id = parse_token_id(id)?;
        self.store
            .revoke_token(org.id, id, self.clock.now())
            .await
            .map_err(|e| token_err(e, id))?;
        self.tokens.clear();
        self.record(org.id, actor, "token.revoke", Some(id.to_string()), None)
            .await;
        Ok(())
    }

    pub async fn set_token_domains(
        &self,
        org: &Organization,
        id: &str,
        domains: &[String],
        actor: &Actor,
    ) -> Result<ScimTokenRecord, Error> {
        let id = parse_token_id(id)?;
        let domains = DomainList::parse(domains).map_err(Error::invalid)?;
        self.store
            .set_token_domains(org.id, id, &domains)
            .await
            .map_err(|e| token_err(e, id))?;
        self.tokens.clear();
        self.record(
            org.id,
            actor,
            "token.domains",
            Some(id.to_string()),
            Some(format!("domains {domains}")),
        )
        .await;
        self.list_tokens(org)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found(format!("no token {id} in this organization")))
    }

    pub async fn create_admin_key(
        &self,
        name: Option<&str>,
    ) -> Result<(AdminKeyRecord, String), Error> {
        let secret = token::generate_secret("pca");
        let record = AdminKeyRecord {
            id: AdminKeyId::new_random(),
            name: name.unwrap_or("operator").to_string(),
            prefix: token::prefix_of(&secret),
            hash: token::hash_secret(&secret),
            created_at: self.clock.now(),
        };
        self.store.create_admin_key(&record).await?;
        Ok((record, secret))
    }

    /// The operator key a bearer secret names, if any.
    pub async fn authenticate_admin(&self, secret: &str) -> Result<Option<AdminKeyRecord>, Error> {
        let found = self
            .store
            .admin_key_by_hash(&token::hash_secret(secret))
            .await?;
        Ok(found.filter(|k| token::hash_matches(&k.hash, secret)))
    }

    pub async fn audit(
        &self,
        org: &Organization,
        query: &AuditQuery,
    ) -> Result<Vec<StoredAuditEvent>, Error> {
        self.audit.flush().await;
        self.store
            .list_audit(org.id, query)
            .await
            .map_err(Error::from)
    }
}

/// Who did something, in words an admin recognises: a token's name, an admin's email.
/// Keyed by `(actor_kind, actor_id)`; actors that no longer exist have no entry.
pub type ActorNames = HashMap<(String, String), String>;

impl AdminService {
    /// Names the actors of a page of audit events: one read of the organization's tokens
    /// when any token acted, one lookup per distinct console admin or user.
    pub async fn audit_actor_names(
        &self,
        org: &Organization,
        events: &[StoredAuditEvent],
    ) -> Result<ActorNames, Error> {
        let mut names = ActorNames::new();
        let acted = |kind: &'static str| {
            events
                .iter()
                .filter(move |e| e.event.actor_kind == kind)
                .filter_map(|e| e.event.actor_id.clone())
        };
        if acted("scim_token").next().is_some() {
            for t in self.store.list_tokens(org.id).await? {
                names.insert(("scim_token".into(), t.id.to_string()), t.name);
            }
        }
        // People who acted themselves (signing in to the console through SSO): their userName.
        let users: HashSet<String> = acted("user").collect();
        for id in users {
            let Ok(user_id) = id.parse::<UserId>() else {
                continue;
            };
            if let Some(u) = self.store.get_user(org.id, user_id).await? {
                names.insert(("user".into(), id), u.user_name);
            }
        }
        let admins: HashSet<String> = acted("console_admin").collect();
        for id in admins {
            let Ok(admin_id) = id.parse::<AdminId>() else {
                continue;
            };
            if let Some(a) = self.store.admin_by_id(org.id, admin_id).await? {
                names.insert(("console_admin".into(), id), a.email);
            }
        }
        Ok(names)
    }
}

fn parse_token_id(id: &str) -> Result<TokenId, Error> {
    id.trim().parse().map_err(|_| {
        Error::invalid(format!(
            "'{id}' is not a token id; see `portcullis token list`"
        ))
    })
}

fn token_err(e: StoreError, id: TokenId) -> Error {
    match e {
        StoreError::NotFound => Error::not_found(format!("no token {id} in this organization")),
        other => Error::from(other),
    }
}

/// Slugs are what admins type on the command line and in URLs: lower-case, digits, dashes.
pub fn validate_slug(slug: &str) -> Result<(), Error> {
    let ok = (1..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{slug}' is not a valid organization slug: use 1 to 63 lower-case letters, digits and dashes, such as acme-corp"
        )))
    }
}
