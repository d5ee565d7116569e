//! The audit log's query parameters, shared by the admin API (`GET /api/v1/orgs/{slug}/audit`)
//! and the console's audit page, so both accept the same filters with the same meaning.
//!
//! `actor` is `kind` or `kind:id`; `outcome` is `succeeded` or `refused`; `since` and `until`
//! are RFC 3339 instants, or a date or `YYYY-MM-DDTHH:MM` (what a browser's date and
//! datetime-local fields send), read as UTC. Blank values mean "any".

use directory::query::{AuditOutcome, AuditQuery};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// The actor kinds the directory records, with their names for people.
pub const ACTOR_KINDS: &[(&str, &str)] = &[
    ("scim_token", "SCIM token"),
    ("saml_idp", "SAML sign-in"),
    ("console_admin", "Console admin"),
    ("user", "Directory user"),
    ("admin_key", "Admin API key"),
    ("cli", "Command line"),
];

pub const MAX_LIMIT: u32 = 1000;
/// Longer values cannot name anything we record; refused rather than sent to the database.
const MAX_VALUE_BYTES: usize = 512;

/// The filters as given, kept so a page can show its form filled in and build paging links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub actor: String,
    pub resource_type: String,
    pub resource: String,
    pub operation: String,
    pub outcome: String,
    pub since: String,
    pub until: String,
    /// As given, so paging links keep the page size.
    pub limit: String,
    pub query: AuditQuery,
}

impl AuditFilter {
    /// The filter parameters and page size (not the cursor) as a query string, for links.
    pub fn link_params(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("resource_type", &self.resource_type),
            ("resource", &self.resource),
            ("operation", &self.operation),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("until", &self.until),
            ("limit", &self.limit),
        ] {
            if !v.is_empty() {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

/// Parses a raw query string; `limit` defaults to `default_limit`. `Err` is a sentence for
/// the person who wrote it.
pub fn parse(raw: Option<&str>, default_limit: u32) -> Result<AuditFilter, String> {
    let mut f = AuditFilter {
        query: AuditQuery {
            limit: default_limit,
            ..AuditQuery::default()
        },
        ..AuditFilter::default()
    };
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.trim();
        if v.len() > MAX_VALUE_BYTES {
            return Err(format!("{k} is longer than any value the audit log holds"));
        }
        if v.is_empty() {
            continue;
        }
        let q = &mut f.query;
        match &*k {
            "actor" => {
                let (kind, id) = match v.split_once(':') {
                    Some((kind, id)) => (kind, Some(id)),
                    None => (v, None),
                };
                if !ACTOR_KINDS.iter().any(|(k, _)| *k == kind) {
                    return Err(format!(
                        "actor must be one of {} (optionally followed by :id)",
                        ACTOR_KINDS
                            .iter()
                            .map(|(k, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                q.actor_kind = Some(kind.to_string());
                q.actor_id = id.filter(|id| !id.is_empty()).map(str::to_string);
                f.actor = v.to_string();
            }
            "resource_type" => {
                q.resource_type = Some(v.to_string());
                f.resource_type = v.to_string();
            }
            "resource" => {
                q.resource_id = Some(v.to_string());
                f.resource = v.to_string();
            }
            "operation" => {
                q.operation_prefix = Some(v.to_string());
                f.operation = v.to_string();
            }
            "outcome" => {
                q.outcome = Some(match v {
                    "succeeded" => AuditOutcome::Succeeded,
                    "refused" => AuditOutcome::Refused,
                    _ => return Err("outcome must be succeeded or refused".into()),
                });
                f.outcome = v.to_string();
            }
            "since" => {
                q.since = Some(instant(v).ok_or_else(|| time_error("since"))?);
                f.since = v.to_string();
            }
            "until" => {
                q.until = Some(instant(v).ok_or_else(|| time_error("until"))?);
                f.until = v.to_string();
            }
            "before" => {
                q.before_seq = Some(position(v, "before")?);
            }
            "after" => {
                q.after_seq = Some(position(v, "after")?);
            }
            "limit" => {
                q.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("limit must be an integer from 1 to {MAX_LIMIT}"))?;
                f.limit = v.to_string();
            }
            other => {
                return Err(format!(
                    "unknown query parameter '{other}'; use actor, resource_type, resource, operation, outcome, since, until, before, after, limit"
                ))
            }
        }
    }
    Ok(f)
}

fn time_error(name: &str) -> String {
    format!(
        "{name} must be a time such as 2026-11-29, 2026-11-29T14:30 (UTC) or 2026-11-29T14:30:00Z"
    )
}

fn position(v: &str, name: &str) -> Result<i64, String> {
    v.parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("{name} must be an event position from a previous page"))
}

/// An instant from RFC 3339, or a UTC date or date and minute as browsers send them.
fn instant(v: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t);
    }
    let minute = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let second = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = PrimitiveDateTime::parse(v, minute) {
        return Some(t.assume_utc());
    }
    if let Ok(t) = PrimitiveDateTime::parse(v, second) {
        return Some(t.assume_utc());
    }
    Date::parse(v, format_description!("[year]-[month]-[day]"))
        .ok()
        .map(|d| d.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn every_filter_and_blank_ones() {
        let f = parse(
        Some(
                "actor=scim_token%3Aabc&resource_type=User&resource=u1&operation=scim.&outcome=refused&since=2026-11-29&until=2026-11-29T14%3A30&before=10&limit=5&after=",
        ),
        50,
    )
        .unwrap();
        let q = &f.query;
        assert_eq!(q.actor_kind.as_deref(), Some("scim_token"));
        assert_eq!(q.actor_id.as_deref(), Some("abc"));
        assert_eq!(q.resource_type.as_deref(), Some("User"));
        assert_eq!(q.resource_id.as_deref(), Some("u1"));
        assert_eq!(q.operation_prefix.as_deref(), Some("scim."));
        assert_eq!(q.outcome, Some(AuditOutcome::Refused));
        assert_eq!(q.since, Some(datetime!(2026-11-29 00:00 UTC)));
        assert_eq!(q.until, Some(datetime!(2026-11-29 14:30 UTC)));
        assert_eq!(q.before_seq, Some(10));
        assert_eq!(q.after_seq, None);
        assert_eq!(q.limit, 5);
        assert_eq!(
            f.link_params(),
            "actor=scim_token%3Aabc&resource_type=User&resource=u1&operation=scim.&outcome=refused&since=2026-11-29&until=2026-11-29T14%3A30&limit=5"
        );
        // Every kind of actor the directory records can be filtered on (the page links each).
        for kind in [
            "scim_token",
            "saml_idp",
            "console_admin",
            "user",
            "admin_key",
            "cli",
        ] {
            let f = parse(Some(&format!("actor={kind}%3Aabc")), 50).unwrap();
            assert_eq!(f.query.actor_kind.as_deref(), Some(kind));
        }
        let none = parse(Some("actor=&outcome=&since="), 50).unwrap();
        assert_eq!(none.query.limit, 50);
        assert_eq!(none.query.actor_kind, None);
        assert_eq!(none.link_params(), "");
        assert_eq!(
            parse(Some("since=2026-11-29T14%3A30%3A00%2B02%3A00"), 50)
                .unwrap()
                .query
                .since,
            Some(datetime!(2026-11-29 12:30 UTC))
        );
    }

    #[test]
    fn refusals_name_the_parameter() {
        for (raw, word) in [
            ("actor=root", "actor"),
            ("outcome=maybe", "outcome"),
            ("since=yesterday", "since"),
            ("until=2026-13-01", "until"),
            ("before=-1", "before"),
            ("after=x", "after"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("colour=red", "colour"),
        ] {
            let e = parse(Some(raw), 50).unwrap_err();
            assert!(e.contains(word), "{raw}: {e}");
        }
        let long = format!("resource={}", "a".repeat(MAX_VALUE_BYTES + 1));
        assert!(parse(Some(&long), 50).unwrap_err().contains("resource"));
    }
}
