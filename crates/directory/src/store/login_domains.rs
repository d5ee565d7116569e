//! Login-domain claims (see `crate::login_domains`): which organization people of an email
//! domain sign in to.

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::{DomainClaim, DomainProof};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait LoginDomainStore: Send + Sync {
    /// The organization whose people sign in with this (lower-cased) email domain: the one
    /// holding the domain's verified claim. Unverified claims route nothing.
    async fn org_for_login_domain(&self, domain: &str) -> StoreResult<Option<OrgId>>;
    /// The organization's claims, by domain, each with `verified_elsewhere` filled in.
    async fn login_domain_claims(&self, org: OrgId) -> StoreResult<Vec<DomainClaim>>;
    /// Makes `claims` the organization's set of claims, atomically: a claim on a domain it
    /// already claims is kept as it is stored (its proof and value stand), the others are
    /// inserted as given, and claims on domains not listed are deleted. Returns the domains
    /// added and the domains removed.
    async fn replace_login_domain_claims(
        &self,
        org: OrgId,
        claims: &[DomainClaim],
    ) -> StoreResult<(Vec<String>, Vec<String>)>;
    /// Inserts the claim unless the organization already claims the domain; true if inserted.
    async fn add_login_domain_claim(&self, claim: &DomainClaim) -> StoreResult<bool>;
    /// Marks the organization's claim on `domain` verified by `proof` at `at` (checks reset),
    /// and, in the same transaction, turns any other organization's verified claim on the
    /// domain unverified with `displaced_note`; returns those organizations. `NotFound` when
    /// the organization has no claim on the domain; `Conflict("domain <d>")` when another
    /// organization holds it by an operator's approval (or the upgrade) and `proof` is not
    /// `Operator`: only an operator moves what an operator decided.
    async fn verify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        proof: DomainProof,
        at: OffsetDateTime,
        displaced_note: &str,
    ) -> StoreResult<Vec<OrgId>>;
    /// Records a DNS check of the claim at `at`: `None` (the record was there) resets the
    /// failed-check count and the note; `Some(why)` counts one more failure and keeps `why`
    /// as the note, and a claim verified by DNS whose count reaches `lapse_after` becomes
    /// unverified. Returns the claim as it now is; `NotFound` without one.
    async fn record_login_domain_check(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        failure: Option<&str>,
        lapse_after: u32,
    ) -> StoreResult<DomainClaim>;
    /// Records a DNS check at `at` that got no answer to trust (timeout, server failure):
    /// the check time and `note` change, the failed-check count and the proof do not, so the
    /// claim waits a full interval before the next try. `NotFound` without a claim.
    async fn record_login_domain_unanswered(
        &self,
        org: OrgId,
        domain: &str,
        at: OffsetDateTime,
        note: &str,
    ) -> StoreResult<()>;
    /// Turns the organization's claim unverified with `note`; false when it was not verified.
    /// `NotFound` without a claim.
    async fn unverify_login_domain(
        &self,
        org: OrgId,
        domain: &str,
        note: &str,
    ) -> StoreResult<bool>;
    /// Claims verified by DNS whose last check is older than `checked_before` (or that were
    /// never checked), oldest first, at most `limit`: the periodic re-check's work list.
    async fn login_domains_due_for_check(
        &self,
        checked_before: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<DomainClaim>>;
}
