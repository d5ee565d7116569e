//! SCIM PATCH (RFC 7644 §3.5.2): parse a PatchOp body and apply it, all-or-nothing.
//!
//! Built for what identity providers really send (see the Okta and Entra ID notes in the
//! design references): capitalised `op` values, booleans as strings, pathless values with
//! dotted and URN-qualified keys, value-filter paths that must create the element they name,
//! and group membership changes that must not touch the stored member list.
//!
//! Group `members` are never applied to the document: a group may have a million members that
//! are not loaded. Membership operations come back as [`MemberChange`]s, in order, for the
//! caller to apply against storage.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{CompValue, CompareOp, Filter};
use crate::path::{AttrPath, PatchPath};
use crate::schema::{self, AttrType, AttributeDef, Mutability, ResourceKind};
use crate::urn;

use crate::filter::matches as filter_matches;
use crate::path::parse_patch_path;

/// The most operations one PATCH request may carry; more is refused rather than half-processed.
pub const MAX_OPERATIONS: usize = crate::limits::MAX_PATCH_OPERATIONS;

/// A PATCH operation's `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    /// Case-insensitive, because Entra ID sends `Add`, `Replace`, `Remove`.
    pub fn parse(s: &str) -> Option<OpKind> {
        [OpKind::Add, OpKind::Remove, OpKind::Replace]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// One parsed operation of a PatchOp request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// A change to a group's membership, for the caller to apply to storage. Ids are the
/// `value`s the client sent, deduplicated, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    ReplaceAll(Vec<String>),
}

/// Parses a PatchOp request body (RFC 7644 §3.5.2).
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body must be a JSON object with \"schemas\": [\"{}\"] and \"Operations\"",
            urn::PATCH_OP
        )));
    };
    let has_patch_urn = match get_ci(obj, "schemas") {
        Some(Value::Array(schemas)) => schemas.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(urn::PATCH_OP))
        }),
        _ => false,
    };
    if !has_patch_urn {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" must be an array containing \"{}\"",
            urn::PATCH_OP
        )));
    }
    let operations = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                "\"Operations\" must be an array of operations",
            ))
        }
        None => {
            return Err(ScimError::invalid_syntax(
                "the PATCH body has no \"Operations\" array",
            ))
        }
    };
    if operations.is_empty() {
        return Err(ScimError::invalid_value(
            "\"Operations\" is empty: send at least one operation",
        ));
    }
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::invalid_value(format!(
            "\"Operations\" has {} operations; at most {MAX_OPERATIONS} operations are accepted in one PATCH request: split it into several",
            operations.len()
        )));
    }
    operations
        .iter()
        .enumerate()
        .map(|(index, op)| parse_operation(op).map_err(|e| at_operation(index, e)))
        .collect()
}

fn parse_operation(op: &Value) -> Result<PatchOp, ScimError> {
    let Some(obj) = op.as_object() else {
        return Err(ScimError::invalid_syntax(
            "an operation must be an object with \"op\", and optionally \"path\" and \"value\"",
        ));
    };
    let kind = match get_ci(obj, "op") {
        Some(Value::String(s)) => OpKind::parse(s).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "unknown op \"{}\"; use add, remove or replace",
                shorten(s)
            ))
        })?,
        Some(_) | None => {
            return Err(ScimError::invalid_syntax(
                "\"op\" is missing or not a string; use add, remove or replace",
            ))
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_patch_path(s)?),
        Some(_) => {
            return Err(ScimError::invalid_syntax(
                "\"path\" must be a string such as \"emails[type eq \\\"work\\\"].value\"",
            ))
        }
    };
    let value = get_ci(obj, "value").cloned();
    check_shape(kind, path.is_some(), value.as_ref())?;
    Ok(PatchOp {
        op: kind,
        path,
        value,
    })
}

/// The shape rules of RFC 7644 §3.5.2.1–3 that do not need the schema.
fn check_shape(kind: OpKind, has_path: bool, value: Option<&Value>) -> Result<(), ScimError> {
    match (kind, has_path, value) {
        (OpKind::Remove, false, _) => Err(ScimError::no_target(
            "remove needs a \"path\" naming what to remove (RFC 7644 §3.5.2.2)",
        )),
        (OpKind::Add | OpKind::Replace, false, Some(Value::Object(_))) => Ok(()),
        (OpKind::Add | OpKind::Replace, false, _) => Err(ScimError::invalid_value(format!(
            "{} without \"path\" needs a \"value\" object of attributes to set",
            kind.as_str()
        ))),
        (OpKind::Add, true, None) => Err(ScimError::invalid_value(
            "add needs a \"value\" to add at \"path\"",
        )),
        _ => Ok(()),
    }
}

/// Applies `ops` in order to `doc` (the resource without `id`/`meta`; extensions under their
/// URN key). Either every operation succeeds and `doc` is updated, or `doc` is left untouched.
///
/// Leniencies, on purpose, because IdPs rely on them: a value-filter path that matches no
/// element makes one from the filter's `eq` terms, for `replace` as well as `add` (Entra sends
/// both); `null` (or a missing value on `replace`) unassigns; read-only attributes in a pathless
/// value are ignored.
pub fn apply(
    kind: ResourceKind,
    doc: &mut Value,
    ops: &[PatchOp],
) -> Result<Vec<MemberChange>, ScimError> {
    let Some(original) = doc.as_object() else {
        return Err(ScimError::new(
            500,
            None,
            "the stored resource is not a JSON object",
        ));
    };
    let mut work = original.clone();
    let mut changes = Vec::new();
    let mut members_named = 0;
    for (index, op) in ops.iter().enumerate() {
        let before = changes.len();
        apply_operation(kind, &mut work, op, &mut changes).map_err(|e| at_operation(index, e))?;
        members_named += changes.get(before..).map_or(0, count_member_ids);
        crate::limits::check_member_count(members_named, "the operations of this PATCH")?;
    }
    tidy(kind, &mut work);
    *doc = Value::Object(work);
    Ok(changes)
}

fn apply_operation(
    kind: ResourceKind,
    work: &mut Map<String, Value>,
    op: &PatchOp,
    changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    // PatchOp's fields are public, so an op built by hand gets the same checks as a parsed one.
    check_shape(op.op, op.path.is_some(), op.value.as_ref())?;
    match &op.path {
        None => match &op.value {
            Some(Value::Object(value)) => apply_pathless(kind, work, op.op, value, changes),
            _ => Ok(()),
        },
        Some(path) if path.attr.attr.is_empty() => {
            apply_schema_path(kind, work, op.op, path, op.value.as_ref(), changes)
        }
        Some(path) => {
            if path.attr.sub_attr.is_some() && path.sub_attr.is_some() {
                return Err(ScimError::invalid_path(format!(
                    "\"{}\" names two sub-attributes; a path has at most one",
                    path.attr.attr
                )));
            }
            let target = Target {
                attr: &path.attr,
                filter: path.filter.as_ref(),
                sub: path.sub_attr.as_deref().or(path.attr.sub_attr.as_deref()),
                pathless: false,
            };
            apply_target(kind, work, op.op, &target, op.value.as_ref(), changes)
        }
    }
}

/// A pathless add/replace: every key of the value object is a target of its own.
fn apply_pathless(
    kind: ResourceKind,
    work: &mut Map<String, Value>,
    op: OpKind,
    value: &Map<String, Value>,
    changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    for (key, v) in value {
        if let Some(schema_urn) = known_schema(kind, key) {
            set_schema_object(kind, work, op, schema_urn, v, changes)?;
        } else {
            set_by_key(kind, work, op, None, key, v, changes)?;
        }
    }
    Ok(())
}

/// A path that is a bare schema URN, e.g. the enterprise extension itself.
fn apply_schema_path(
    kind: ResourceKind,
    work: &mut Map<String, Value>,
    op: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
    changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    let written = path.attr.schema.as_deref().unwrap_or_default();
    let Some(schema_urn) = known_schema(kind, written) else {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not a schema of {} resources; known: {}",
            shorten(written),
            kind_name(kind),
            schema_urns(kind).join(", ")
        )));
    };
    if path.filter.is_some() || path.sub_attr.is_some() || path.attr.sub_attr.is_some() {
        return Err(ScimError::invalid_path(format!(
            "a path naming the schema \"{schema_urn}\" cannot have a filter or sub-attribute; name an attribute, e.g. \"{schema_urn}:attributeName\""
        )));
    }
    match (op, value) {
        (OpKind::Remove, _) => set_schema_object(kind, work, op, schema_urn, &Value::Null, changes),
        (_, None) => set_schema_object(kind, work, op, schema_urn, &Value::Null, changes),
        (_, Some(v)) => set_schema_object(kind, work, op, schema_urn, v, changes),
    }
}

/// Sets (or, with `null`, unassigns) a whole schema's attributes from an object value.
fn set_schema_object(
    kind: ResourceKind,
    work: &mut Map<String, Value>,
    op: OpKind,
    schema_urn: &'static str,
    value: &Value,
    changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    let is_core = schema_urn == core_urn(kind);
    match value {
        Value::Object(attrs) if op != OpKind::Remove => {
            for (key, v) in attrs {
                set_by_key(kind, work, op, Some(schema_urn), key, v, changes)?;
            }
            Ok(())
        }
        Value::Null if is_core => Err(ScimError::invalid_path(format!(
            "the core schema \"{schema_urn}\" cannot be removed; remove its attributes one by one"
        ))),
        Value::Null => {
            remove_ci(work, schema_urn);
            Ok(())
        }
        other => Err(ScimError::invalid_value(format!(
            "the value for \"{schema_urn}\" must be an object of its attributes, got {}",
            describe(other)
        ))),
    }
}

/// One key of a pathless value: `attr`, `attr.sub`, `urn:…:attr[.sub]` (or, inside a schema
/// URN object, a name relative to `schema_urn`).
fn set_by_key(
    kind: ResourceKind,
    work: &mut Map<String, Value>,
    op: OpKind,
    schema_urn: Option<&'static str>,
    key: &str,
    value: &Value,
    changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    let (schema_urn, name) = match schema_urn {
        Some(u) => (Some(u), key),
        None => split_urn_key(kind, key)?,
    };
    let in_core = schema_urn.is_none_or(|u| u == core_urn(kind));
    // Clients echo the resource back; its server-maintained parts are not theirs to set. An
    // extension's object may carry its own `schemas` too (clients that model extensions as
    // resources of their own write it), which says nothing to set either.
    if name.eq_ignore_ascii_case("schemas")
        || (in_core && ["id", "meta"].iter().any(|k| k.eq_ignore_ascii_case(name)))
    {
        return Ok(());
    }
    let (attr, sub) = match name.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (name, None),
    };
    if attr.is_empty() || sub.is_some_and(|s| s.is_empty() || s.contains('.')) {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not an attribute name (expected attribute or attribute.subAttribute)",
            shorten(key)
        )));
    }
    let path = AttrPath {
        schema: schema_urn.map(str::to_owned),
        attr: attr.to_owned(),
        sub_attr: None,
    };
    let target = Target {
        attr: &path,
        filter: None,
        sub,
        pathless: true,
    };
    apply_target(kind, work, op, &target, Some(value), changes)
}

/// What one operation (or one key of a pathless value) aims at.
struct Target<'a> {
    attr: &'a AttrPath,
    filter: Option<&'a Filter>,
    sub: Option<&'a str>,
    /// Pathless values ignore read-only attributes instead of refusing them.
    pathless: bool,
}

fn apply_target(
    kind: ResourceKind,
    work: &mut Map<String, Value>,
    op: OpKind,
    target: &Target<'_>,
    value: Option<&Value>,
    changes: &mut Vec<MemberChange>,
) -> Result<(), ScimError> {
    if is_group_members(kind, target.attr) {
        if let Some(change) = member_change(op, target, value)? {
            changes.push(change);
        }
        return Ok(());
    }
    let plain = AttrPath {
        schema: target.attr.schema.clone(),
        attr: target.attr.attr.clone(),
        sub_attr: None,
    };
    let Some(resolved) = schema::resolve(kind, &plain) else {
        return Err(unknown_attribute(kind, target.attr));
    };
    let def = resolved.attr;
    let sub = match target.sub {
        Some(name) => Some(find_sub(def, name).ok_or_else(|| {
            ScimError::invalid_path(format!(
                "\"{}\" has no sub-attribute \"{}\"{}",
                def.name,
                shorten(name),
                list_subs(def)
            ))
        })?),
        None => None,
    };
    let label = match sub {
        Some(s) => format!("{}.{}", def.name, s.name),
        None => def.name.to_owned(),
    };

    let read_only = def.mutability == Mutability::ReadOnly
        || sub.is_some_and(|s| s.mutability == Mutability::ReadOnly)
        || (kind == ResourceKind::User && def.name.eq_ignore_ascii_case("groups"));
    if read_only {
        if target.pathless {
            return Ok(());
        }
        let hint = if def.name.eq_ignore_ascii_case("groups") {
            "; change memberships through /Groups"
        } else {
            ""
        };
        return Err(ScimError::mutability(format!(
            "\"{label}\" is read-only and cannot be changed with PATCH{hint}"
        )));
    }

    let container = if resolved.schema.id.eq_ignore_ascii_case(core_urn(kind)) {
        work
    } else {
        let ext = slot(work, resolved.schema.id);
        if !ext.is_object() {
            *ext = Value::Object(Map::new());
        }
        match ext {
            Value::Object(m) => m,
            // Made an object just above.
            _ => return Ok(()),
        }
    };

    // Write-only attributes (the password) are accepted so the client's push succeeds, checked
    // for type, and never stored: Portcullis signs people in through SSO.
    let write_only = def.mutability == Mutability::WriteOnly
        || sub.is_some_and(|s| s.mutability == Mutability::WriteOnly);
    if write_only {
        if let (OpKind::Add | OpKind::Replace, Some(v)) = (op, value) {
            coerce(def, v)?;
        }
        remove_ci(container, def.name);
        return Ok(());
    }

    let immutable = def.mutability == Mutability::Immutable
        || sub.is_some_and(|s| s.mutability == Mutability::Immutable);
    let was_set = get_ci(container, def.name).is_some_and(|v| !v.is_null());
    // Only an immutable attribute needs its old value, to compare: copying every attribute
    // an operation touches would make each operation cost the attribute's whole size.
    let before = if immutable && was_set {
        get_ci(container, def.name).cloned()
    } else {
        None
    };

    modify(kind, container, def, sub, target.filter, op, value)?;

    let after = get_ci(container, def.name);
    if let Some(before) = &before {
        if after != Some(before) {
            return Err(ScimError::mutability(format!(
                "\"{label}\" is immutable and already set"
            )));
        }
    }
    if def.required && was_set && after.is_none() {
        return Err(ScimError::invalid_value(format!(
            "\"{}\" is required and cannot be removed",
            def.name
        )));
    }
    Ok(())
}

/// Applies one operation to `def` inside `map` (core attributes or an extension object).
fn modify(
    kind: ResourceKind,
    map: &mut Map<String, Value>,
    def: &'static AttributeDef,
    sub: Option<&'static AttributeDef>,
    filter: Option<&Filter>,
    op: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // An absent value on replace, or an explicit null, unassigns (RFC 7643 §2.5).
    let value = value.unwrap_or(&Value::Null);
    let current = slot(map, def.name);
    let count_before = current.as_array().map_or(0, Vec::len);
    match (filter, sub) {
        (None, None) => modify_whole(def, current, op, value)?,
        (None, Some(sub)) => modify_sub(def, sub, current, op, value)?,
        (Some(filter), sub) => modify_filtered(def, filter, sub, current, op, value)?,
    }
    // Checked after every operation, not only on the result: later operations of the same
    // request would otherwise run over an attribute grown past the limit. Growing is what is
    // refused, so a resource stored before the limit existed can still be trimmed.
    let count_after = current.as_array().map_or(0, Vec::len);
    if count_after > count_before {
        crate::limits::check_value_count(kind, def.name, count_after)?;
    }
    if map.get(def.name).is_none_or(is_unassigned) {
        map.shift_remove(def.name);
    }
    Ok(())
}

fn modify_whole(
    def: &'static AttributeDef,
    current: &mut Value,
    op: OpKind,
    value: &Value,
) -> Result<(), ScimError> {
    if op == OpKind::Remove {
        if value.is_null() || !def.multi_valued {
            *current = Value::Null;
            return Ok(());
        }
        // Remove with a value list removes just those values (Entra does this for members;
        // accepting it for every multi-valued attribute costs nothing).
        let Value::Array(doomed) = coerce(def, value)? else {
            return Ok(());
        };
        let doomed = ElementIndex::of(def, &doomed);
        let mut items = take_array(current);
        items.retain(|item| doomed.find(item).is_none());
        *current = Value::Array(items);
        return Ok(());
    }
    let new = coerce(def, value)?;
    if new.is_null() {
        *current = Value::Null;
        return Ok(());
    }
    if def.multi_valued {
        let Value::Array(new_items) = new else {
            return Ok(());
        };
        let (items, touched) = if op == OpKind::Replace {
            let touched: Vec<usize> = (0..new_items.len()).collect();
            (new_items.into_iter().map(without_nulls).collect(), touched)
        } else {
            let mut items = take_array(current);
            let mut index = ElementIndex::of(def, &items);
            let mut touched = Vec::new();
            for new_item in new_items {
                match index.find(&new_item) {
                    Some(i) => {
                        if let Some(existing) = items.get_mut(i) {
                            let old_key = index.key(existing);
                            merge_value(existing, new_item);
                            // Merging may give an untyped element a type.
                            let new_key = index.key(existing);
                            index.rekey(i, old_key, new_key);
                        }
                        touched.push(i);
                    }
                    None => {
                        let element = without_nulls(new_item);
                        index.insert(items.len(), &element);
                        items.push(element);
                        touched.push(items.len() - 1);
                    }
                }
            }
            (items, touched)
        };
        *current = Value::Array(items);
        enforce_single_primary(def, current, &touched);
    } else if def.ty == AttrType::Complex {
        // RFC 7644 §3.5.2.1/3: sub-attributes not given are left as they are.
        merge_value(current, new);
    } else {
        *current = new;
    }
    Ok(())
}

fn modify_sub(
    def: &'static AttributeDef,
    sub: &'static AttributeDef,
    current: &mut Value,
    op: OpKind,
    value: &Value,
) -> Result<(), ScimError> {
    if def.multi_valued {
        if op != OpKind::Remove {
            return Err(ScimError::invalid_path(format!(
                "\"{0}.{1}\" does not say which element to change: select it with a filter, e.g. {0}[type eq \"work\"].{1}",
                def.name, sub.name
            )));
        }
        let mut items = take_array(current);
        for item in &mut items {
            if let Value::Object(o) = item {
                remove_ci(o, sub.name);
            }
        }
        items.retain(|item| !is_unassigned(item));
        *current = Value::Array(items);
        return Ok(());
    }
    let mut obj = take_object(current);
    let new = if op == OpKind::Remove {
        Value::Null
    } else {
        coerce(sub, value)?
    };
    set_ci(&mut obj, sub.name, new);
    *current = Value::Object(obj);
    if has_empty_value(def, current) {
        *current = Value::Null;
    }
    Ok(())
}

fn modify_filtered(
    def: &'static AttributeDef,
    filter: &Filter,
    sub: Option<&'static AttributeDef>,
    current: &mut Value,
    op: OpKind,
    value: &Value,
) -> Result<(), ScimError> {
    if !def.multi_valued || def.ty != AttrType::Complex {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not a multi-valued complex attribute, so it cannot take a [filter]",
            def.name
        )));
    }
    // Paths inside the brackets are relative (`type`); accept a root-qualified one too.
    let case_exact = |p: &AttrPath| {
        let name = match &p.sub_attr {
            Some(sub) if p.attr.eq_ignore_ascii_case(def.name) => sub,
            _ => &p.attr,
        };
        find_sub(def, name).is_some_and(|s| s.case_exact)
    };
    let mut items = take_array(current);
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| filter_matches(filter, item, &case_exact))
        .map(|(i, _)| i)
        .collect();
    let mut touched = Vec::new();
    let new = match (op, sub) {
        (OpKind::Remove, _) => Value::Null,
        (_, Some(sub)) => coerce(sub, value)?,
        (_, None) => coerce_element(def, unwrap_single(value))?,
    };
    match sub {
        Some(sub) if new.is_null() => {
            for &i in &matched {
                if let Some(Value::Object(o)) = items.get_mut(i) {
                    remove_ci(o, sub.name);
                }
            }
        }
        Some(sub) if matched.is_empty() => {
            let mut element = element_from_filter(def, filter)?;
            set_ci(&mut element, sub.name, new);
            items.push(Value::Object(element));
            touched.push(items.len() - 1);
        }
        Some(sub) => {
            for &i in &matched {
                if let Some(item) = items.get_mut(i) {
                    let mut obj = take_object(item);
                    set_ci(&mut obj, sub.name, new.clone());
                    *item = Value::Object(obj);
                }
            }
            touched = matched.clone();
        }
        None if new.is_null() => {
            // A mask, not `matched.contains`: one pass whatever the number of matches.
            let mut doomed = vec![false; items.len()];
            for &i in &matched {
                if let Some(d) = doomed.get_mut(i) {
                    *d = true;
                }
            }
            let mut doomed = doomed.into_iter();
            items.retain(|_| !doomed.next().unwrap_or(false));
        }
        None if matched.is_empty() => {
            let mut element = Value::Object(element_from_filter(def, filter)?);
            merge_value(&mut element, new);
            items.push(element);
            touched.push(items.len() - 1);
        }
        None => {
            for &i in &matched {
                if let Some(item) = items.get_mut(i) {
                    if op == OpKind::Replace {
                        *item = without_nulls(new.clone());
                    } else {
                        merge_value(item, new.clone());
                    }
                }
            }
            touched = matched.clone();
        }
    }
    items.retain(|item| !is_unassigned(item));
    *current = Value::Array(items);
    enforce_single_primary(def, current, &touched);
    Ok(())
}

/// A new element described by a filter such as `type eq "work"` (Entra relies on
/// `emails[type eq "work"].value` creating the work email).
fn element_from_filter(
    def: &'static AttributeDef,
    filter: &Filter,
) -> Result<Map<String, Value>, ScimError> {
    let cannot = || {
        ScimError::no_target(format!(
            "no element of \"{}\" matches the filter, and a new one can only be made from a filter of eq comparisons joined by and, e.g. {}[type eq \"work\"]",
            def.name, def.name
        ))
    };
    let mut element = Map::new();
    let mut pending = vec![filter];
    while let Some(f) = pending.pop() {
        match f {
            Filter::And(a, b) => {
                pending.push(b);
                pending.push(a);
            }
            Filter::Compare(path, CompareOp::Eq, value)
                if path.schema.is_none() && path.sub_attr.is_none() =>
            {
                let sub = find_sub(def, &path.attr).ok_or_else(cannot)?;
                let value = coerce(sub, &comp_value_json(value))?;
                set_ci(&mut element, sub.name, value);
            }
            _ => return Err(cannot()),
        }
    }
    Ok(element)
}

fn is_group_members(kind: ResourceKind, attr: &AttrPath) -> bool {
    kind == ResourceKind::Group
        && attr.attr.eq_ignore_ascii_case("members")
        && attr
            .schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(urn::GROUP))
}

/// Turns an operation on a group's `members` into a [`MemberChange`] (None: nothing to do).
fn member_change(
    op: OpKind,
    target: &Target<'_>,
    value: Option<&Value>,
) -> Result<Option<MemberChange>, ScimError> {
    if target.sub.is_some() {
        return Err(ScimError::invalid_path(
            "members are changed whole: use path \"members\" (with a value list) or \"members[value eq \\\"id\\\"]\", without a sub-attribute",
        ));
    }
    let value = value.filter(|v| !v.is_null());
    if let Some(filter) = target.filter {
        if op != OpKind::Remove {
            return Err(ScimError::invalid_path(
                "a members filter is only supported with remove; to add members use path \"members\" with a value like [{\"value\": \"<id>\"}]",
            ));
        }
        return Ok(Some(MemberChange::Remove(member_ids_from_filter(filter)?)));
    }
    Ok(match (op, value) {
        (OpKind::Add, None) => None,
        (OpKind::Add, Some(v)) => {
            let ids = member_ids(v)?;
            (!ids.is_empty()).then_some(MemberChange::Add(ids))
        }
        (OpKind::Replace, None) => Some(MemberChange::RemoveAll),
        (OpKind::Replace, Some(v)) => Some(MemberChange::ReplaceAll(member_ids(v)?)),
        (OpKind::Remove, None) => Some(MemberChange::RemoveAll),
        (OpKind::Remove, Some(v)) => {
            let ids = member_ids(v)?;
            (!ids.is_empty()).then_some(MemberChange::Remove(ids))
        }
    })
}

fn member_ids(value: &Value) -> Result<Vec<String>, ScimError> {
    let items: &[Value] = match value {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    };
    check_members_per_operation(items.len())?;
    let mut ids = UniqueIds::with_capacity(items.len());
    for item in items {
        let id = item
            .as_object()
            .and_then(|o| get_ci(o, "value"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "each member must be an object whose \"value\" is the member's id, e.g. {{\"value\": \"<id>\"}}; got {}",
                    describe(item)
                ))
            })?;
        ids.push(id);
    }
    Ok(ids.into_vec())
}

fn member_ids_from_filter(filter: &Filter) -> Result<Vec<String>, ScimError> {
    let mut ids = UniqueIds::with_capacity(0);
    let mut terms = 0;
    let mut pending = vec![filter];
    while let Some(f) = pending.pop() {
        match f {
            Filter::Or(a, b) => {
                pending.push(b);
                pending.push(a);
            }
            Filter::Compare(path, CompareOp::Eq, CompValue::String(id))
                if path.schema.is_none()
                    && path.sub_attr.is_none()
                    && path.attr.eq_ignore_ascii_case("value") =>
            {
                terms += 1;
                check_members_per_operation(terms)?;
                ids.push(id);
            }
            _ => {
                return Err(ScimError::invalid_filter(
                    "a members filter may only be value eq \"<id>\" terms joined by or, e.g. members[value eq \"a\" or value eq \"b\"]",
                ))
            }
        }
    }
    Ok(ids.into_vec())
}

fn check_members_per_operation(count: usize) -> Result<(), ScimError> {
    use crate::limits::MAX_MEMBERS_PER_OPERATION;
    if count > MAX_MEMBERS_PER_OPERATION {
        return Err(ScimError::invalid_value(format!(
            "the operation names {count} members; at most {MAX_MEMBERS_PER_OPERATION} members are accepted in one operation: split it into several"
        )));
    }
    Ok(())
}

/// How many member ids `changes` name (a `replace` counts its new list).
fn count_member_ids(changes: &[MemberChange]) -> usize {
    changes
        .iter()
        .map(|c| match c {
            MemberChange::Add(ids) | MemberChange::Remove(ids) | MemberChange::ReplaceAll(ids) => {
                ids.len()
            }
            MemberChange::RemoveAll => 0,
        })
        .sum()
}

/// Member ids in the order first given, each once: a set beside the list, so 20,000 ids
/// cost 20,000 lookups, not the 200 million comparisons of searching the list for each.
struct UniqueIds {
    order: Vec<String>,
    seen: HashSet<String>,
}

impl UniqueIds {
    fn with_capacity(n: usize) -> Self {
        UniqueIds {
            order: Vec::with_capacity(n),
            seen: HashSet::with_capacity(n),
        }
    }

    fn push(&mut self, id: &str) {
        if !self.seen.contains(id) {
            self.seen.insert(id.to_owned());
            self.order.push(id.to_owned());
        }
    }

    fn into_vec(self) -> Vec<String> {
        self.order
    }
}

// ---- values: coercion by schema type ----

/// The whole value of `def` (an array for multi-valued attributes), coerced to its schema type.
/// `Null` means unassigned.
fn coerce(def: &AttributeDef, value: &Value) -> Result<Value, ScimError> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::Array(items) if def.multi_valued => {
            use crate::limits::MAX_ATTRIBUTE_VALUES;
            if items.len() > MAX_ATTRIBUTE_VALUES {
                return Err(ScimError::invalid_value(format!(
                    "\"{}\" is given {} values in one operation; an attribute may have at most {MAX_ATTRIBUTE_VALUES} values",
                    def.name,
                    items.len()
                )));
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let item = coerce_element(def, item)?;
                if !item.is_null() {
                    out.push(item);
                }
            }
            Ok(Value::Array(out))
        }
        single if def.multi_valued => {
            let item = coerce_element(def, single)?;
            Ok(if item.is_null() {
                Value::Array(Vec::new())
            } else {
                Value::Array(vec![item])
            })
        }
        // Entra sends the manager as a one-element list.
        Value::Array(items) => match items.as_slice() {
            [] => Ok(Value::Null),
            [only] => coerce_element(def, only),
            _ => Err(ScimError::invalid_value(format!(
                "\"{}\" is single-valued but got {} values",
                def.name,
                items.len()
            ))),
        },
        single => coerce_element(def, single),
    }
}

/// One value (or one element of a multi-valued attribute).
fn coerce_element(def: &AttributeDef, value: &Value) -> Result<Value, ScimError> {
    if def.ty != AttrType::Complex {
        return coerce_scalar(def, value);
    }
    let has_value_sub = find_sub(def, "value").is_some();
    match value {
        Value::Null => Ok(Value::Null),
        Value::Object(given) => {
            let mut out = Map::new();
            for (key, v) in given {
                let Some(sub) = find_sub(def, key) else {
                    return Err(ScimError::invalid_value(format!(
                        "\"{}\" has no sub-attribute \"{}\"{}",
                        def.name,
                        shorten(key),
                        list_subs(def)
                    )));
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                // Null stays as a marker: merging it unassigns that sub-attribute.
                out.insert(sub.name.to_owned(), coerce_scalar(sub, v)?);
            }
            let out = Value::Object(out);
            Ok(if !def.multi_valued && has_empty_value(def, &out) {
                Value::Null
            } else {
                out
            })
        }
        // A bare id for a reference-like attribute (Entra's manager as "id"); "" unassigns.
        Value::String(s) if has_value_sub => {
            if s.is_empty() && !def.multi_valued {
                return Ok(Value::Null);
            }
            let mut out = Map::new();
            if let Some(sub) = find_sub(def, "value") {
                out.insert(sub.name.to_owned(), coerce_scalar(sub, value)?);
            }
            Ok(Value::Object(out))
        }
        other => Err(ScimError::invalid_value(format!(
            "\"{}\" takes an object with sub-attributes{}; got {}",
            def.name,
            list_subs(def),
            describe(other)
        ))),
    }
}

fn coerce_scalar(def: &AttributeDef, value: &Value) -> Result<Value, ScimError> {
    let wrong = |expected: &str| {
        ScimError::invalid_value(format!(
            "\"{}\" must be {expected}; got {}",
            def.name,
            describe(value)
        ))
    };
    match (def.ty, value) {
        (_, Value::Null) => Ok(Value::Null),
        (AttrType::Boolean, Value::Bool(_)) => Ok(value.clone()),
        // Entra sends "True" / "False".
        (AttrType::Boolean, Value::String(s)) => match s.trim() {
            t if t.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            f if f.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(wrong("true or false")),
        },
        (AttrType::Boolean, _) => Err(wrong("true or false")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(value.clone()),
        (AttrType::Integer, _) => Err(wrong("a whole number")),
        (AttrType::Decimal, Value::Number(_)) => Ok(value.clone()),
        (AttrType::Decimal, _) => Err(wrong("a number")),
        (AttrType::DateTime, Value::String(s)) => {
            match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
                Ok(_) => Ok(value.clone()),
                Err(_) => Err(wrong("a date-time like \"2024-05-01T12:00:00Z\"")),
            }
        }
        (AttrType::DateTime, _) => Err(wrong("a date-time string like \"2024-05-01T12:00:00Z\"")),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(_)) => {
            Ok(value.clone())
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => Err(wrong("a string")),
        (AttrType::Complex, _) => Err(wrong("a simple value, not a nested complex value")),
    }
}

/// A value-filter target takes one element; tolerate it wrapped in a one-element list.
fn unwrap_single(value: &Value) -> &Value {
    match value {
        Value::Array(items) if items.len() == 1 => items.first().unwrap_or(value),
        other => other,
    }
}

/// Two elements are "the same value" when their `value` (and `type`, if both have one) agree;
/// simple values compare with the attribute's case rule. [`ElementIndex`] finds elements by
/// this rule without comparing every pair; this is the rule written out, to test it against.
#[cfg(test)]
fn same_element(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    fn value_of(o: &Map<String, Value>) -> Option<&Value> {
        get_ci(o, "value").filter(|v| !v.is_null())
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => match (value_of(x), value_of(y)) {
            (Some(vx), Some(vy)) => {
                let case_exact = find_sub(def, "value").is_some_and(|s| s.case_exact);
                let types_agree = match (get_ci(x, "type"), get_ci(y, "type")) {
                    (Some(tx), Some(ty)) => same_scalar(false, tx, ty),
                    _ => true,
                };
                same_scalar(case_exact, vx, vy) && types_agree
            }
            _ => without_nulls(a.clone()) == without_nulls(b.clone()),
        },
        _ => same_scalar(def.case_exact, a, b),
    }
}

#[cfg(test)]
fn same_scalar(case_exact: bool, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// The elements of a multi-valued attribute filed by what makes two of them "the same
/// value" (an element with a `value`: that value under the attribute's case rule, and its
/// `type` when both have one; an element without: all of it; a simple value: itself), so
/// adding or removing n values among m elements costs O(n + m) lookups, not n × m
/// comparisons. Positions are kept in order, so the first match wins as in a linear search.
struct ElementIndex {
    value_case_exact: bool,
    scalar_case_exact: bool,
    buckets: HashMap<String, Bucket>,
}

/// The positions of the elements that share one value key.
#[derive(Default)]
struct Bucket {
    all: BTreeSet<usize>,
    untyped: BTreeSet<usize>,
    typed: HashMap<String, BTreeSet<usize>>,
}

/// Where an element is filed: its value key, and its type key if it has a `value` and a `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ElementKey {
    value: String,
    kind: Option<String>,
}

impl ElementIndex {
    fn of(def: &AttributeDef, items: &[Value]) -> Self {
        let mut index = ElementIndex {
            value_case_exact: find_sub(def, "value").is_some_and(|s| s.case_exact),
            scalar_case_exact: def.case_exact,
            buckets: HashMap::with_capacity(items.len()),
        };
        for (position, item) in items.iter().enumerate() {
            index.insert(position, item);
        }
        index
    }

    fn key(&self, element: &Value) -> ElementKey {
        match element {
            Value::Object(o) => match get_ci(o, "value").filter(|v| !v.is_null()) {
                Some(value) => ElementKey {
                    value: format!("v{}", scalar_key(self.value_case_exact, value)),
                    kind: get_ci(o, "type").map(|t| scalar_key(false, t)),
                },
                None => ElementKey {
                    value: format!("o{}", object_key(o)),
                    kind: None,
                },
            },
            other => ElementKey {
                value: format!("s{}", scalar_key(self.scalar_case_exact, other)),
                kind: None,
            },
        }
    }

    fn insert(&mut self, position: usize, element: &Value) {
        let key = self.key(element);
        self.file(position, key);
    }

    fn file(&mut self, position: usize, key: ElementKey) {
        let bucket = self.buckets.entry(key.value).or_default();
        bucket.all.insert(position);
        match key.kind {
            None => bucket.untyped.insert(position),
            Some(kind) => bucket.typed.entry(kind).or_default().insert(position),
        };
    }

    /// Files the element at `position` again after a change made `old` into `new`.
    fn rekey(&mut self, position: usize, old: ElementKey, new: ElementKey) {
        if old == new {
            return;
        }
        if let Some(bucket) = self.buckets.get_mut(&old.value) {
            bucket.all.remove(&position);
            match &old.kind {
                None => {
                    bucket.untyped.remove(&position);
                }
                Some(kind) => {
                    if let Some(set) = bucket.typed.get_mut(kind) {
                        set.remove(&position);
                    }
                }
            }
        }
        self.file(position, new);
    }

    /// The first element that is the same value as `probe`.
    fn find(&self, probe: &Value) -> Option<usize> {
        let key = self.key(probe);
        let bucket = self.buckets.get(&key.value)?;
        match key.kind {
            // Without a type, any element with the value matches.
            None => bucket.all.first().copied(),
            // With one: elements without a type, or with the same type.
            Some(kind) => {
                let untyped = bucket.untyped.first().copied();
                let same = bucket.typed.get(&kind).and_then(|s| s.first().copied());
                match (untyped, same) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
        }
    }
}

/// A simple value as a hash key; strings folded to lower case unless `case_exact`.
fn scalar_key(case_exact: bool, value: &Value) -> String {
    match value {
        Value::String(s) if case_exact => format!("t{s}"),
        Value::String(s) => format!("t{}", s.to_ascii_lowercase()),
        other => format!("j{other}"),
    }
}

/// An element without a `value`, compared whole (unassigned sub-attributes left out): its
/// sub-attributes in name order, so equal elements give equal keys whatever their order.
fn object_key(o: &Map<String, Value>) -> String {
    let mut fields: Vec<(&String, &Value)> = o.iter().filter(|(_, v)| !v.is_null()).collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut key = String::new();
    for (name, value) in fields {
        key.push_str(&serde_json::to_string(name).unwrap_or_default());
        key.push(':');
        key.push_str(&value.to_string());
        key.push(',');
    }
    key
}

/// Setting `primary: true` on one element clears it on the others (RFC 7643 §2.4).
fn enforce_single_primary(def: &AttributeDef, current: &mut Value, touched: &[usize]) {
    if find_sub(def, "primary").is_none() {
        return;
    }
    let Value::Array(items) = current else {
        return;
    };
    let is_primary = |v: &Value| {
        v.as_object()
            .and_then(|o| get_ci(o, "primary"))
            .and_then(Value::as_bool)
            == Some(true)
    };
    let winner = touched
        .iter()
        .copied()
        .find(|&i| items.get(i).is_some_and(is_primary))
        .or_else(|| items.iter().position(is_primary));
    let Some(winner) = winner else {
        return;
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != winner && is_primary(item) {
            if let Value::Object(o) = item {
                set_ci(o, "primary", Value::Bool(false));
            }
        }
    }
}

// ---- JSON helpers (attribute names are case-insensitive, RFC 7643 §2.1) ----

fn get_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn remove_ci(map: &mut Map<String, Value>, name: &str) {
    map.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

/// Sets `name` in the schema's spelling, dropping other spellings; `Null` removes it.
fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    map.retain(|k, _| k == name || !k.eq_ignore_ascii_case(name));
    if value.is_null() {
        map.shift_remove(name);
    } else {
        map.insert(name.to_owned(), value);
    }
}

/// The slot for `name`, renamed to the schema's spelling; `Null` when absent.
fn slot<'m>(map: &'m mut Map<String, Value>, name: &str) -> &'m mut Value {
    if !map.contains_key(name) {
        let spelled_otherwise = map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
        if let Some(old) = spelled_otherwise.and_then(|k| map.shift_remove(&k)) {
            map.insert(name.to_owned(), old);
        }
    }
    map.retain(|k, _| k == name || !k.eq_ignore_ascii_case(name));
    map.entry(name.to_owned()).or_insert(Value::Null)
}

fn take_array(current: &mut Value) -> Vec<Value> {
    match current.take() {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn take_object(current: &mut Value) -> Map<String, Value> {
    match current.take() {
        Value::Object(obj) => obj,
        _ => Map::new(),
    }
}

/// Merges the sub-attributes of `new` into `current`; a `null` sub-attribute unassigns it.
fn merge_value(current: &mut Value, new: Value) {
    match new {
        Value::Object(new) => {
            let mut obj = take_object(current);
            for (k, v) in new {
                set_ci(&mut obj, &k, v);
            }
            *current = Value::Object(obj);
        }
        other => *current = other,
    }
}

fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(mut obj) => {
            obj.retain(|_, v| !v.is_null());
            Value::Object(obj)
        }
        other => other,
    }
}

fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A single-valued reference (the manager) whose `value` is empty means "no manager".
fn has_empty_value(def: &AttributeDef, value: &Value) -> bool {
    find_sub(def, "value").is_some()
        && value
            .as_object()
            .and_then(|o| get_ci(o, "value"))
            .and_then(Value::as_str)
            .is_some_and(|s| s.trim().is_empty())
}

fn comp_value_json(value: &CompValue) -> Value {
    match value {
        CompValue::Null => Value::Null,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::String(s) => Value::String(s.clone()),
    }
}

/// Removes what must never be stored and what is left empty.
fn tidy(kind: ResourceKind, work: &mut Map<String, Value>) {
    remove_ci(work, "password");
    let mut present = Vec::new();
    for ext in schema_urns(kind).iter().skip(1) {
        if get_ci(work, ext).is_none_or(is_unassigned) {
            remove_ci(work, ext);
        } else {
            present.push(*ext);
        }
    }
    // Keep a stored `schemas` list in step with the extensions actually present.
    if let Some(Value::Array(schemas)) = work.get_mut("schemas") {
        for ext in schema_urns(kind).iter().skip(1) {
            let listed = schemas
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(ext)));
            let wanted = present.contains(ext);
            if wanted && !listed {
                schemas.push(Value::String((*ext).to_owned()));
            } else if !wanted && listed {
                schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(ext)));
            }
        }
    }
}

// ---- schema helpers ----

fn core_urn(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => urn::USER,
        ResourceKind::Group => urn::GROUP,
    }
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    }
}

/// The schema URNs of a resource type, core first.
fn schema_urns(kind: ResourceKind) -> &'static [&'static str] {
    match kind {
        ResourceKind::User => &[urn::USER, urn::ENTERPRISE_USER],
        ResourceKind::Group => &[urn::GROUP],
    }
}

fn known_schema(kind: ResourceKind, written: &str) -> Option<&'static str> {
    schema_urns(kind)
        .iter()
        .copied()
        .find(|u| u.eq_ignore_ascii_case(written))
}

/// Splits `urn:…:User:name.givenName` into its schema and the rest.
fn split_urn_key(kind: ResourceKind, key: &str) -> Result<(Option<&'static str>, &str), ScimError> {
    for schema_urn in schema_urns(kind) {
        let prefix_matches = key
            .get(..schema_urn.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(schema_urn));
        if prefix_matches {
            if let Some(rest) = key
                .get(schema_urn.len()..)
                .and_then(|r| r.strip_prefix(':'))
            {
                return Ok((Some(schema_urn), rest));
            }
        }
    }
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return Err(ScimError::invalid_path(format!(
            "\"{}\" is not in a schema of {} resources; known: {}",
            shorten(key),
            kind_name(kind),
            schema_urns(kind).join(", ")
        )));
    }
    Ok((None, key))
}

fn find_sub(def: &AttributeDef, name: &str) -> Option<&'static AttributeDef> {
    def.sub_attributes
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

fn list_subs(def: &AttributeDef) -> String {
    if def.sub_attributes.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = def.sub_attributes.iter().map(|s| s.name).collect();
    format!(" ({})", names.join(", "))
}

fn unknown_attribute(kind: ResourceKind, attr: &AttrPath) -> ScimError {
    let written = match &attr.schema {
        Some(s) => format!("{}:{}", s, attr.attr),
        None => attr.attr.clone(),
    };
    ScimError::invalid_path(format!(
        "no attribute \"{}\" in {} resources",
        shorten(&written),
        kind_name(kind)
    ))
}

fn at_operation(index: usize, e: ScimError) -> ScimError {
    ScimError {
        detail: format!("Operations[{index}]: {}", e.detail),
        ..e
    }
}

/// Client text echoed in an error, cut so a huge value cannot blow up the response.
fn shorten(s: &str) -> String {
    const LIMIT: usize = 80;
    if s.chars().count() <= LIMIT {
        s.to_owned()
    } else {
        let mut cut: String = s.chars().take(LIMIT).collect();
        cut.push('…');
        cut
    }
}

fn describe(value: &Value) -> String {
    shorten(&value.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use proptest::prelude::*;
    use serde_json::json;

    const ENT: &str = urn::ENTERPRISE_USER;

    fn body(ops: Value) -> Value {
        json!({"schemas": [urn::PATCH_OP], "Operations": ops})
    }

    fn patch(
        kind: ResourceKind,
        doc: &mut Value,
        ops: Value,
    ) -> Result<Vec<MemberChange>, ScimError> {
        let ops = parse_patch_request(&body(ops))?;
        apply(kind, doc, &ops)
    }

    fn user() -> Value {
        json!({
            "schemas": [urn::USER],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true
        })
    }

    fn group() -> Value {
        json!({"schemas": [urn::GROUP], "displayName": "Engineering"})
    }

    fn err_type(r: Result<Vec<MemberChange>, ScimError>) -> (ScimType, String) {
        match r {
            Err(e) => {
                assert_eq!(e.status, 400, "{e}");
                (e.scim_type.unwrap_or(ScimType::InvalidVers), e.detail)
            }
            Ok(c) => panic!("expected an error, got {c:?}"),
        }
    }

    // ---- parsing ----

    #[test]
    fn parses_ops_case_insensitively() {
        let ops = parse_patch_request(&body(json!([
            {"op": "Add", "path": "nickName", "value": "x"},
            {"op": "REPLACE", "value": {"active": false}},
            {"op": "remove", "path": "nickName"}
        ])))
        .unwrap();
        let kinds: Vec<OpKind> = ops.iter().map(|o| o.op).collect();
        assert_eq!(kinds, [OpKind::Add, OpKind::Replace, OpKind::Remove]);
        assert!(ops[1].path.is_none());
        assert_eq!(ops[0].path.as_ref().unwrap().attr.attr, "nickName");
    }

    #[test]
    fn accepts_lowercase_operations_key() {
        let ops = parse_patch_request(&json!({
            "schemas": [urn::PATCH_OP],
            "operations": [{"op": "replace", "value": {"active": true}}]
        }))
        .unwrap();
        assert_eq!(ops.len(), 1);
    }

    #[test]
    fn refuses_bad_bodies_with_clear_errors() {
        let cases = [
            (json!([]), ScimType::InvalidSyntax, "a JSON object"),
            (
                json!({"Operations": []}),
                ScimType::InvalidSyntax,
                urn::PATCH_OP,
            ),
            (
                json!({"schemas": [urn::USER], "Operations": []}),
                ScimType::InvalidSyntax,
                urn::PATCH_OP,
            ),
            (
                json!({"schemas": [urn::PATCH_OP]}),
                ScimType::InvalidSyntax,
                "Operations",
            ),
            (
                json!({"schemas": [urn::PATCH_OP], "Operations": {}}),
                ScimType::InvalidSyntax,
                "array",
            ),
            (
                json!({"schemas": [urn::PATCH_OP], "Operations": []}),
                ScimType::InvalidValue,
                "empty",
            ),
            (body(json!([1])), ScimType::InvalidSyntax, "Operations[0]"),
            (
                body(json!([{"path": "x"}])),
                ScimType::InvalidSyntax,
                "\"op\"",
            ),
            (
                body(json!([{"op": "move", "path": "x"}])),
                ScimType::InvalidSyntax,
                "move",
            ),
            (
                body(json!([{"op": "add", "path": 3, "value": 1}])),
                ScimType::InvalidSyntax,
                "\"path\"",
            ),
            (
                body(json!([{"op": "add", "path": "nickName", "value": "a"}, {"op": "remove"}])),
                ScimType::NoTarget,
                "Operations[1]: remove needs a \"path\"",
            ),
            (
                body(json!([{"op": "add", "value": "x"}])),
                ScimType::InvalidValue,
                "value\" object",
            ),
            (
                body(json!([{"op": "replace"}])),
                ScimType::InvalidValue,
                "replace without",
            ),
            (
                body(json!([{"op": "add", "path": "nickName"}])),
                ScimType::InvalidValue,
                "add needs",
            ),
        ];
        for (input, ty, needle) in cases {
            let e = parse_patch_request(&input).unwrap_err();
            assert_eq!(e.status, 400);
            assert_eq!(e.scim_type, Some(ty), "{input}: {e}");
            assert!(e.detail.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn bounds_the_number_of_operations() {
        let op = json!({"op": "replace", "value": {"active": true}});
        let ops = Value::Array(vec![op; MAX_OPERATIONS + 1]);
        let e = parse_patch_request(&body(ops)).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert!(e.detail.contains("at most 1000 operations"), "{e}");
        let op = json!({"op": "replace", "value": {"active": true}});
        let ops = Value::Array(vec![op; MAX_OPERATIONS]);
        assert_eq!(
            parse_patch_request(&body(ops)).unwrap().len(),
            MAX_OPERATIONS
        );
    }

    // ---- Okta ----

    #[test]
    fn okta_deactivate_and_reactivate() {
        let mut doc = user();
        let body = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]});
        let ops = parse_patch_request(&body).unwrap();
        assert!(apply(ResourceKind::User, &mut doc, &ops)
            .unwrap()
            .is_empty());
        assert_eq!(doc["active"], json!(false));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","value":{"active":true}}]),
        )
        .unwrap();
        assert_eq!(doc["active"], json!(true));
    }

    #[test]
    fn okta_group_rename_ignores_read_only_id() {
        let mut doc = group();
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"replace","value":{"id":"5f1c1a4e-0000-4000-8000-000000000001","displayName":"New name"}}]),
        )
        .unwrap();
        assert!(changes.is_empty());
        assert_eq!(
            doc,
            json!({"schemas": [urn::GROUP], "displayName": "New name"})
        );
    }

    #[test]
    fn okta_membership_request_in_order() {
        let mut doc = group();
        let ops = parse_patch_request(&json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
            {"op":"remove","path":"members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
            {"op":"add","path":"members","value":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}]}))
        .unwrap();
        let changes = apply(ResourceKind::Group, &mut doc, &ops).unwrap();
        assert_eq!(
            changes,
            [
                MemberChange::Remove(vec!["89bb1940-b905-4575-9e7f-6f887cfb368e".into()]),
                MemberChange::Add(vec!["23a35c27-23d3-4c03-b4c5-6443c09e7173".into()]),
            ]
        );
        assert_eq!(doc, group(), "members never land in the document");
    }

    #[test]
    fn okta_full_push_replaces_members() {
        let mut doc = group();
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"replace","path":"members","value":[{"value":"a","display":"A"},{"value":"b"},{"value":"a"}]}]),
        )
        .unwrap();
        assert_eq!(
            changes,
            [MemberChange::ReplaceAll(vec!["a".into(), "b".into()])]
        );
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"replace","path":"members","value":[]}]),
        )
        .unwrap();
        assert_eq!(changes, [MemberChange::ReplaceAll(vec![])]);
    }

    // ---- members, every form ----

    #[test]
    fn members_remove_by_or_filter() {
        let mut doc = group();
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]),
        )
        .unwrap();
        assert_eq!(
            changes,
            [MemberChange::Remove(vec!["a".into(), "b".into()])]
        );
    }

    #[test]
    fn entra_members_remove_by_value_list() {
        let mut doc = group();
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"Remove","path":"members","value":[{"value":"a"},{"value":"b"}]}]),
        )
        .unwrap();
        assert_eq!(
            changes,
            [MemberChange::Remove(vec!["a".into(), "b".into()])]
        );
    }

    #[test]
    fn members_remove_without_value_removes_all() {
        let mut doc = group();
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"remove","path":"members"}]),
        )
        .unwrap();
        assert_eq!(changes, [MemberChange::RemoveAll]);
        // An empty list removes nothing, never everything.
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"remove","path":"members","value":[]}]),
        )
        .unwrap();
        assert!(changes.is_empty());
    }

    #[test]
    fn pathless_add_and_replace_with_members() {
        let mut doc = group();
        let changes = patch(
            ResourceKind::Group,
            &mut doc,
            json!([
                {"op":"add","value":{"members":[{"value":"a"}]}},
                {"op":"replace","value":{"displayName":"Ops","members":[{"value":"b"}]}}
            ]),
        )
        .unwrap();
        assert_eq!(
            changes,
            [
                MemberChange::Add(vec!["a".into()]),
                MemberChange::ReplaceAll(vec!["b".into()])
            ]
        );
        assert_eq!(doc["displayName"], "Ops");
        assert!(doc.get("members").is_none());
    }

    #[test]
    fn members_filters_other_than_value_eq_or_are_refused() {
        for path in [
            "members[value ne \"a\"]",
            "members[value eq \"a\" and value eq \"b\"]",
            "members[display eq \"a\"]",
        ] {
            let mut doc = group();
            let (ty, detail) = err_type(patch(
                ResourceKind::Group,
                &mut doc,
                json!([{"op":"remove","path":path}]),
            ));
            assert_eq!(ty, ScimType::InvalidFilter, "{path}");
            assert!(detail.contains("value eq"), "{detail}");
        }
    }

    #[test]
    fn member_without_value_is_refused() {
        for value in [
            json!([{"display": "x"}]),
            json!([{"value": ""}]),
            json!(["a"]),
            json!([{"value": 7}]),
        ] {
            let mut doc = group();
            let (ty, detail) = err_type(patch(
                ResourceKind::Group,
                &mut doc,
                json!([{"op":"add","path":"members","value":value}]),
            ));
            assert_eq!(ty, ScimType::InvalidValue);
            assert!(detail.contains("\"value\""), "{detail}");
        }
    }

    #[test]
    fn members_sub_attribute_or_add_with_filter_is_refused() {
        let mut doc = group();
        let (ty, _) = err_type(patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"add","path":"members[value eq \"a\"]","value":{"value":"a"}}]),
        ));
        assert_eq!(ty, ScimType::InvalidPath);
        let (ty, _) = err_type(patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"replace","path":"members.display","value":"x"}]),
        ));
        assert_eq!(ty, ScimType::InvalidPath);
    }

    // ---- Entra ----

    #[test]
    fn entra_string_booleans() {
        let mut doc = user();
        for (given, want) in [
            ("False", false),
            ("True", true),
            ("false", false),
            ("TRUE", true),
        ] {
            patch(
                ResourceKind::User,
                &mut doc,
                json!([{"op":"Replace","path":"active","value":given}]),
            )
            .unwrap();
            assert_eq!(doc["active"], json!(want), "{given}");
        }
        let (ty, detail) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Replace","path":"active","value":"yes"}]),
        ));
        assert_eq!(ty, ScimType::InvalidValue);
        assert!(
            detail.contains("active") && detail.contains("true or false"),
            "{detail}"
        );
        let (ty, _) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Replace","path":"active","value":1}]),
        ));
        assert_eq!(ty, ScimType::InvalidValue);
    }

    #[test]
    fn entra_pathless_replace_with_dotted_and_urn_keys() {
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","value":{"displayName":"X","name.givenName":"A","name.familyName":"B",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"12"}}]),
        )
        .unwrap();
        assert_eq!(doc["displayName"], "X");
        assert_eq!(doc["name"], json!({"givenName": "A", "familyName": "B"}));
        assert_eq!(doc[ENT], json!({"employeeNumber": "12"}));
        assert_eq!(
            doc["schemas"],
            json!([urn::USER, ENT]),
            "schemas follows the extension"
        );
    }

    #[test]
    fn pathless_keys_normalise_case_and_accept_core_urn_and_extension_object() {
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"add","value":{
                "DISPLAYNAME": "Y",
                "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName": "G",
                ENT: {"department": "R&D", "manager": {"value": "m1"}},
                "schemas": ["whatever"], "meta": {"x": 1}, "groups": [{"value": "g"}]
            }}]),
        )
        .unwrap();
        assert_eq!(doc["displayName"], "Y");
        assert!(doc.get("DISPLAYNAME").is_none());
        assert_eq!(doc["name"]["givenName"], "G");
        assert_eq!(
            doc[ENT],
            json!({"department": "R&D", "manager": {"value": "m1"}})
        );
        assert!(doc.get("groups").is_none() && doc.get("meta").is_none());
        assert_eq!(doc["schemas"], json!([urn::USER, ENT]));
    }

    #[test]
    fn entra_add_work_email_value_creates_or_updates() {
        let mut doc = json!({"userName": "u"});
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Add","path":"emails[type eq \"work\"].value","value":"a@b.c"}]),
        )
        .unwrap();
        assert_eq!(doc["emails"], json!([{"type": "work", "value": "a@b.c"}]));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Add","path":"emails[type eq \"work\"].value","value":"d@e.f"}]),
        )
        .unwrap();
        assert_eq!(doc["emails"], json!([{"type": "work", "value": "d@e.f"}]));
        // Replace creates too (lenient: Entra sends Replace for absent emails as well).
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Replace","path":"emails[type eq \"home\"].value","value":"h@e.f"}]),
        )
        .unwrap();
        assert_eq!(doc["emails"][1], json!({"type": "home", "value": "h@e.f"}));
        // Case-insensitive filter match on `type`.
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"emails[type eq \"WORK\"].value","value":"w@e.f"}]),
        )
        .unwrap();
        assert_eq!(doc["emails"].as_array().unwrap().len(), 2);
        assert_eq!(doc["emails"][0]["value"], "w@e.f");
    }

    #[test]
    fn filter_that_cannot_describe_a_new_element_is_no_target() {
        let mut doc = json!({"userName": "u"});
        let (ty, _) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"add","path":"emails[type ne \"work\"].value","value":"a@b.c"}]),
        ));
        assert_eq!(ty, ScimType::NoTarget);
    }

    #[test]
    fn extension_urn_path_takes_an_object_that_carries_its_own_schemas() {
        // scim2-tester (scim2-models) sends the extension as an object with its own `schemas`.
        for op in ["add", "replace"] {
            let mut doc = user();
            patch(
                ResourceKind::User,
                &mut doc,
                json!([{"op": op, "path": ENT, "value": {
                    "schemas": [ENT], "employeeNumber": "7",
                    "manager": {"value": "m1", "$ref": "https://x/Users/m1"}}}]),
            )
            .unwrap();
            assert_eq!(doc[ENT]["employeeNumber"], "7", "{op}");
            assert_eq!(doc[ENT]["manager"]["value"], "m1", "{op}");
            assert!(doc[ENT].get("schemas").is_none(), "{op}");
            assert_eq!(doc["schemas"], json!([urn::USER, ENT]), "{op}");
        }
        // A core attribute named inside the extension object is still unknown there.
        let mut doc = user();
        let e = patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"add","path": ENT, "value": {"userName": "x"}}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    }

    #[test]
    fn entra_manager_forms() {
        let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Add","path":path,"value":[{"value":"m1"}]}]),
        )
        .unwrap();
        assert_eq!(doc[ENT]["manager"], json!({"value": "m1"}));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Replace","path":path,"value":"m2"}]),
        )
        .unwrap();
        assert_eq!(doc[ENT]["manager"], json!({"value": "m2"}));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Replace","path":path,"value":{"value":"m3"}}]),
        )
        .unwrap();
        assert_eq!(doc[ENT]["manager"], json!({"value": "m3"}));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Replace","path":path,"value":""}]),
        )
        .unwrap();
        assert!(doc.get(ENT).is_none(), "empty extension removed: {doc}");
        assert_eq!(doc["schemas"], json!([urn::USER]));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Add","path":path,"value":"m4"}]),
        )
        .unwrap();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Replace","path":path,"value":null}]),
        )
        .unwrap();
        assert!(doc.get(ENT).is_none());
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Add","path":path,"value":{"value":"m5"}}]),
        )
        .unwrap();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Add","path":path,"value":{"value":""}}]),
        )
        .unwrap();
        assert!(doc.get(ENT).is_none());
        let (ty, _) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"Add","path":path,"value":[{"value":"a"},{"value":"b"}]}]),
        ));
        assert_eq!(ty, ScimType::InvalidValue);
    }

    // ---- Users: read-only, write-only, mutability ----

    #[test]
    fn user_groups_path_is_read_only() {
        let mut doc = user();
        let (ty, detail) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"add","path":"groups","value":[{"value":"g"}]}]),
        ));
        assert_eq!(ty, ScimType::Mutability);
        assert!(
            detail.contains("groups") && detail.contains("/Groups"),
            "{detail}"
        );
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","value":{"groups":[{"value":"g"}],"nickName":"n"}}]),
        )
        .unwrap();
        assert!(doc.get("groups").is_none());
        assert_eq!(doc["nickName"], "n");
    }

    #[test]
    fn read_only_paths_are_refused() {
        for path in [
            "id",
            "meta",
            "meta.created",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        ] {
            let mut doc = user();
            let (ty, _) = err_type(patch(
                ResourceKind::User,
                &mut doc,
                json!([{"op":"replace","path":path,"value":"x"}]),
            ));
            assert_eq!(ty, ScimType::Mutability, "{path}");
        }
    }

    #[test]
    fn password_is_accepted_and_never_stored() {
        let mut doc = user();
        doc["password"] = json!("leftover");
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"password","value":"1mz050nq"}]),
        )
        .unwrap();
        assert!(doc.get("password").is_none());
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","value":{"password":"1mz050nq","PassWord":"x"}}]),
        )
        .unwrap();
        assert!(doc.get("password").is_none() && doc.get("PassWord").is_none());
        let (ty, _) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"password","value":5}]),
        ));
        assert_eq!(ty, ScimType::InvalidValue);
    }

    #[test]
    fn unknown_attributes_are_invalid_path_naming_them() {
        for (ops, needle) in [
            (
                json!([{"op":"add","path":"favouriteColour","value":"x"}]),
                "favouriteColour",
            ),
            (
                json!([{"op":"add","path":"name.nickname","value":"x"}]),
                "nickname",
            ),
            (
                json!([{"op":"replace","value":{"shoeSize":"x"}}]),
                "shoeSize",
            ),
            (
                json!([{"op":"replace","value":{"urn:example:custom:1.0:User:x":"y"}}]),
                "urn:example",
            ),
        ] {
            let mut doc = user();
            let (ty, detail) = err_type(patch(ResourceKind::User, &mut doc, ops));
            assert_eq!(ty, ScimType::InvalidPath);
            assert!(detail.contains(needle), "{detail}");
        }
    }

    #[test]
    fn values_are_checked_against_the_schema_type() {
        for ops in [
            json!([{"op":"replace","path":"displayName","value":12}]),
            json!([{"op":"replace","value":{"userName":true}}]),
            json!([{"op":"add","path":"name","value":"Plain"}]),
            json!([{"op":"add","path":"emails","value":[{"value":"a@b.c","shoe":1}]}]),
            json!([{"op":"add","path":"emails","value":[{"value":"a@b.c","primary":"maybe"}]}]),
        ] {
            let mut doc = user();
            let (ty, _) = err_type(patch(ResourceKind::User, &mut doc, ops.clone()));
            assert_eq!(ty, ScimType::InvalidValue, "{ops}");
        }
    }

    #[test]
    fn required_attribute_cannot_be_removed() {
        let mut doc = user();
        let (ty, detail) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"remove","path":"userName"}]),
        ));
        assert_eq!(ty, ScimType::InvalidValue);
        assert!(detail.contains("userName"));
    }

    // ---- RFC 7644 §3.5.2 semantics ----

    #[test]
    fn add_to_single_valued_sets_and_to_complex_merges() {
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([
                {"op":"add","path":"title","value":"CTO"},
                {"op":"add","path":"name","value":{"middleName":"Q","givenName":"T2"}},
                {"op":"replace","path":"name","value":{"familyName":"U2"}}
            ]),
        )
        .unwrap();
        assert_eq!(doc["title"], "CTO");
        assert_eq!(
            doc["name"],
            json!({"givenName": "T2", "familyName": "U2", "middleName": "Q"})
        );
    }

    #[test]
    fn add_to_multi_valued_appends_without_duplicates_and_keeps_one_primary() {
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([
                {"op":"add","path":"emails","value":[{"value":"TEST.user@okta.local","type":"work"}]},
                {"op":"add","path":"emails","value":[{"value":"home@x.y","type":"home","primary":true}]}
            ]),
        )
        .unwrap();
        assert_eq!(
            doc["emails"],
            json!([
                {"primary": false, "value": "TEST.user@okta.local", "type": "work"},
                {"value": "home@x.y", "type": "home", "primary": true}
            ])
        );
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"emails[type eq \"work\"].primary","value":true}]),
        )
        .unwrap();
        assert_eq!(doc["emails"][0]["primary"], true);
        assert_eq!(doc["emails"][1]["primary"], false);
    }

    #[test]
    fn replace_multi_valued_replaces_all() {
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"emails","value":[{"value":"n@x.y"}]}]),
        )
        .unwrap();
        assert_eq!(doc["emails"], json!([{"value": "n@x.y"}]));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"emails","value":[]}]),
        )
        .unwrap();
        assert!(doc.get("emails").is_none());
    }

    #[test]
    fn remove_forms() {
        let mut doc = user();
        doc["phoneNumbers"] =
            json!([{"value": "1", "type": "work"}, {"value": "2", "type": "mobile"}]);
        patch(
            ResourceKind::User,
            &mut doc,
            json!([
                {"op":"remove","path":"phoneNumbers[type eq \"mobile\"]"},
                {"op":"remove","path":"emails[type eq \"work\"].primary"},
                {"op":"remove","path":"name.givenName"},
                {"op":"remove","path":"nickName"},
                {"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}
            ]),
        )
        .unwrap();
        assert_eq!(doc["phoneNumbers"], json!([{"value": "1", "type": "work"}]));
        assert_eq!(
            doc["emails"],
            json!([{"value": "test.user@okta.local", "type": "work"}])
        );
        assert_eq!(doc["name"], json!({"familyName": "User"}));
        patch(ResourceKind::User, &mut doc, json!([{"op":"remove","path":"phoneNumbers[type eq \"work\"]"},{"op":"remove","path":"name.familyName"}])).unwrap();
        assert!(
            doc.get("phoneNumbers").is_none() && doc.get("name").is_none(),
            "{doc}"
        );
    }

    #[test]
    fn replace_with_null_removes() {
        let mut doc = user();
        patch(ResourceKind::User, &mut doc, json!([{"op":"replace","path":"locale","value":null},{"op":"replace","path":"displayName"}])).unwrap();
        assert!(doc.get("locale").is_none() && doc.get("displayName").is_none());
    }

    #[test]
    fn filter_replace_without_sub_attribute_replaces_matching_elements() {
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w@x.y","type":"work"}}]),
        )
        .unwrap();
        assert_eq!(doc["emails"], json!([{"value": "w@x.y", "type": "work"}]));
    }

    #[test]
    fn extension_schema_path_sets_and_removes_the_extension() {
        let mut doc = user();
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"add","path":ENT,"value":{"costCenter":"42","Division":"D"}}]),
        )
        .unwrap();
        assert_eq!(doc[ENT], json!({"costCenter": "42", "division": "D"}));
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"remove","path":ENT}]),
        )
        .unwrap();
        assert!(doc.get(ENT).is_none());
        assert_eq!(doc["schemas"], json!([urn::USER]));
    }

    #[test]
    fn existing_keys_in_other_case_are_normalised() {
        let mut doc = json!({"username": "a", "DisplayName": "old"});
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op":"replace","path":"displayname","value":"new"}]),
        )
        .unwrap();
        assert_eq!(doc, json!({"username": "a", "displayName": "new"}));
    }

    #[test]
    fn all_or_nothing() {
        let mut doc = user();
        let before = doc.clone();
        let (ty, detail) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([
                {"op":"replace","value":{"active":false}},
                {"op":"replace","path":"active","value":"perhaps"}
            ]),
        ));
        assert_eq!(ty, ScimType::InvalidValue);
        assert!(detail.starts_with("Operations[1]"), "{detail}");
        assert_eq!(doc, before);

        let mut doc = group();
        let err = patch(
            ResourceKind::Group,
            &mut doc,
            json!([{"op":"replace","value":{"displayName":"X"}},{"op":"add","path":"nope","value":1}]),
        );
        assert!(err.is_err());
        assert_eq!(doc, group());
    }

    #[test]
    fn non_object_document_is_an_error_not_a_panic() {
        let ops =
            parse_patch_request(&body(json!([{"op":"replace","value":{"active":true}}]))).unwrap();
        assert_eq!(
            apply(ResourceKind::User, &mut json!([1]), &ops)
                .unwrap_err()
                .status,
            500
        );
    }

    // ---- cost: limits and linear paths ----

    fn user_with_emails(n: usize) -> Value {
        let emails: Vec<Value> = (0..n)
            .map(|i| json!({"value": format!("u{i}@acme.com"), "type": format!("t{}", i % 3)}))
            .collect();
        json!({"schemas": [urn::USER], "userName": "bjensen", "emails": emails})
    }

    #[test]
    fn an_operation_may_not_grow_an_attribute_past_its_limit() {
        use crate::limits::MAX_ATTRIBUTE_VALUES;
        let mut doc = user_with_emails(MAX_ATTRIBUTE_VALUES);
        let (t, detail) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op": "add", "path": "emails", "value": [{"value": "one.more@acme.com"}]}]),
        ));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(detail.contains("at most 100 values"), "{detail}");
        assert_eq!(doc, user_with_emails(MAX_ATTRIBUTE_VALUES));
        // Each of many small adds is checked, not only the request's end result.
        let adds: Vec<Value> = (0..MAX_ATTRIBUTE_VALUES + 1)
            .map(|i| json!({"op": "add", "path": "emails", "value": [{"value": format!("n{i}@acme.com")}]}))
            .collect();
        let mut removes_after = adds.clone();
        removes_after.push(json!({"op": "remove", "path": "emails"}));
        let mut doc = user_with_emails(0);
        let (t, detail) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            Value::Array(removes_after),
        ));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(detail.starts_with("Operations[100]"), "{detail}");
        // A value list longer than the limit is refused before it is looked at.
        let many: Vec<Value> = (0..MAX_ATTRIBUTE_VALUES + 1)
            .map(|i| json!({"value": format!("r{i}@acme.com")}))
            .collect();
        let mut doc = user_with_emails(3);
        let (t, detail) = err_type(patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op": "remove", "path": "emails", "value": many}]),
        ));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(detail.contains("given 101 values"), "{detail}");
        // A resource stored over the limit before it existed can still be trimmed.
        let mut doc = user_with_emails(MAX_ATTRIBUTE_VALUES + 20);
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op": "remove", "path": "emails[type eq \"t0\"]"}]),
        )
        .unwrap();
        assert_eq!(doc["emails"].as_array().unwrap().len(), 80);
    }

    #[test]
    fn members_are_bounded_per_operation_and_per_request() {
        use crate::limits::{MAX_MEMBERS_PER_OPERATION, MAX_MEMBERS_PER_REQUEST};
        let ids = |from: usize, n: usize| -> Value {
            Value::Array(
                (from..from + n)
                    .map(|i| json!({"value": format!("m{i}")}))
                    .collect(),
            )
        };
        let mut g = group();
        let changes = patch(
            ResourceKind::Group,
            &mut g,
            json!([{"op": "add", "path": "members", "value": ids(0, MAX_MEMBERS_PER_OPERATION)}]),
        )
        .unwrap();
        assert_eq!(
            changes,
            vec![MemberChange::Add(
                (0..MAX_MEMBERS_PER_OPERATION)
                    .map(|i| format!("m{i}"))
                    .collect()
            )]
        );
        let (t, detail) = err_type(patch(
            ResourceKind::Group,
            &mut g,
            json!([{"op": "add", "path": "members", "value": ids(0, MAX_MEMBERS_PER_OPERATION + 1)}]),
        ));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(detail.contains("at most 10000 members"), "{detail}");
        // Two full operations fit in one request; a third does not.
        let two = json!([
            {"op": "remove", "path": "members", "value": ids(0, MAX_MEMBERS_PER_OPERATION)},
            {"op": "add", "path": "members", "value": ids(MAX_MEMBERS_PER_OPERATION, MAX_MEMBERS_PER_OPERATION)},
        ]);
        patch(ResourceKind::Group, &mut g, two.clone()).unwrap();
        let mut three = two.as_array().unwrap().clone();
        three.push(json!({"op": "add", "path": "members", "value": [{"value": "one-more"}]}));
        let (t, detail) = err_type(patch(ResourceKind::Group, &mut g, Value::Array(three)));
        assert_eq!(t, ScimType::InvalidValue);
        assert!(
            detail.contains(&format!("at most {MAX_MEMBERS_PER_REQUEST} members")),
            "{detail}"
        );
        // A members filter is bounded by the path's own length limit long before that.
    }

    #[test]
    fn ten_thousand_member_ids_are_deduplicated_in_order() {
        let mut values: Vec<Value> = (0..10_000)
            .map(|i| json!({"value": format!("m{}", i % 5_000)}))
            .collect();
        values.reverse();
        let mut g = group();
        let changes = patch(
            ResourceKind::Group,
            &mut g,
            json!([{"op": "replace", "path": "members", "value": values}]),
        )
        .unwrap();
        let [MemberChange::ReplaceAll(ids)] = changes.as_slice() else {
            panic!("{changes:?}")
        };
        assert_eq!(ids.len(), 5_000);
        assert_eq!(ids[0], "m4999");
        assert_eq!(ids[4_999], "m0");
    }

    #[test]
    fn filtered_remove_keeps_exactly_the_unmatched_elements() {
        let mut doc = user_with_emails(99);
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op": "remove", "path": "emails[type eq \"t1\"]"}]),
        )
        .unwrap();
        let left: Vec<&str> = doc["emails"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["value"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (0..99)
            .filter(|i| i % 3 != 1)
            .map(|i| format!("u{i}@acme.com"))
            .collect();
        assert_eq!(left, want);
    }

    #[test]
    fn remove_and_add_by_value_list_follow_the_same_value_rule() {
        let mut doc = json!({"schemas": [urn::USER], "userName": "a", "emails": [
            {"value": "A@acme.com", "type": "work"},
            {"value": "a@acme.com", "type": "home"},
            {"value": "b@acme.com"},
        ]});
        // Case-insensitive value; the type must agree when both have one.
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op": "remove", "path": "emails", "value": [{"value": "a@ACME.com", "type": "WORK"}, {"value": "B@acme.com", "type": "other"}]}]),
        )
        .unwrap();
        assert_eq!(
            doc["emails"],
            json!([{"value": "a@acme.com", "type": "home"}])
        );
        // Adding an existing value merges into the first match, giving it a type.
        let mut doc = json!({"schemas": [urn::USER], "userName": "a", "emails": [
            {"value": "x@acme.com"}, {"value": "x@acme.com", "type": "home"}]});
        patch(
            ResourceKind::User,
            &mut doc,
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "x@acme.com", "type": "work", "display": "first"},
                {"value": "x@acme.com", "type": "work", "display": "again"},
                {"value": "x@acme.com", "type": "home", "display": "home"}]}]),
        )
        .unwrap();
        assert_eq!(
            doc["emails"],
            json!([
                {"value": "x@acme.com", "type": "work", "display": "again"},
                {"value": "x@acme.com", "type": "home", "display": "home"}
            ])
        );
    }

    #[test]
    fn the_most_expensive_allowed_patch_is_applied_in_full() {
        use crate::limits::{MAX_ATTRIBUTE_VALUES, MAX_PATCH_OPERATIONS};
        // A full attribute and every operation a value filter over it: the shape a load test
        // should drive. It must come out right (timing is for the benchmark, not this test).
        let mut doc = user_with_emails(MAX_ATTRIBUTE_VALUES);
        let ops: Vec<Value> = (0..MAX_PATCH_OPERATIONS)
            .map(|i| {
                json!({"op": "replace", "path": format!("emails[value eq \"u{}@acme.com\"].display", i % MAX_ATTRIBUTE_VALUES), "value": format!("d{i}")})
            })
            .collect();
        patch(ResourceKind::User, &mut doc, Value::Array(ops)).unwrap();
        let emails = doc["emails"].as_array().unwrap();
        assert_eq!(emails.len(), MAX_ATTRIBUTE_VALUES);
        assert_eq!(emails[7]["display"], "d907");
    }

    fn element() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            Just(Value::Null),
            Just(Value::from("a@x.co")),
            Just(Value::from("A@X.co")),
            Just(Value::from("b@x.co")),
            Just(Value::from(1)),
            Just(Value::Bool(true)),
        ];
        let kind = prop_oneof![
            Just(None),
            Just(Some(Value::from("work"))),
            Just(Some(Value::from("WORK"))),
            Just(Some(Value::from("home"))),
            Just(Some(Value::Null)),
        ];
        let display = prop_oneof![Just(None), Just(Some("d")), Just(Some("e"))];
        prop_oneof![
            4 => (prop::option::of(scalar.clone()), kind, display).prop_map(|(v, t, d)| {
                let mut o = Map::new();
                if let Some(d) = d {
                    o.insert("display".into(), Value::from(d));
                }
                if let Some(v) = v {
                    o.insert("value".into(), v);
                }
                if let Some(t) = t {
                    o.insert("type".into(), t);
                }
                Value::Object(o)
            }),
            1 => scalar,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The index finds what a linear search by [`same_element`] finds, for every
        /// attribute's case rule.
        #[test]
        fn element_index_agrees_with_the_linear_rule(
            items in prop::collection::vec(element(), 0..8),
            probes in prop::collection::vec(element(), 1..6),
            attr in prop_oneof![Just("emails"), Just("x509Certificates"), Just("addresses")],
        ) {
            let def = crate::schema::resolve(
                ResourceKind::User,
                &AttrPath { schema: None, attr: attr.into(), sub_attr: None },
            )
            .unwrap()
            .attr;
            let index = ElementIndex::of(def, &items);
            for probe in &probes {
                let linear = items.iter().position(|e| same_element(def, e, probe));
                prop_assert_eq!(index.find(probe), linear, "{:?} in {:?}", probe, items);
            }
        }
    }

    // ---- never panics ----

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop_oneof![
                Just("".to_string()),
                Just("True".to_string()),
                Just("work".to_string()),
                "[a-zA-Z0-9@. ]{0,12}"
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("value".to_string()),
            Just("type".to_string()),
            Just("primary".to_string()),
            Just("display".to_string()),
            Just("givenName".to_string()),
            Just("active".to_string()),
            Just("members".to_string()),
            Just("emails".to_string()),
            Just("name.givenName".to_string()),
            Just(ENT.to_string()),
            Just(format!("{ENT}:manager")),
            "[a-zA-Z.:]{0,10}",
        ]
    }

    fn path() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("active".to_string()),
            Just("displayName".to_string()),
            Just("userName".to_string()),
            Just("name".to_string()),
            Just("name.givenName".to_string()),
            Just("emails".to_string()),
            Just("emails.value".to_string()),
            Just("emails[type eq \"work\"]".to_string()),
            Just("emails[type eq \"work\"].value".to_string()),
            Just("emails[type eq \"work\" and primary eq true].value".to_string()),
            Just("emails[type ne \"work\"]".to_string()),
            Just("members".to_string()),
            Just("members[value eq \"a\" or value eq \"b\"]".to_string()),
            Just("groups".to_string()),
            Just("password".to_string()),
            Just("id".to_string()),
            Just(ENT.to_string()),
            Just(format!("{ENT}:manager")),
            Just(format!("{ENT}:manager.value")),
            Just(format!("{}:name.familyName", urn::USER)),
            "[a-zA-Z\\[\\]\". :]{0,16}",
        ]
    }

    fn operation() -> impl Strategy<Value = Value> {
        (
            prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("REMOVE")],
            prop::option::of(path()),
            prop::option::of(any_json()),
        )
            .prop_map(|(op, path, value)| {
                let mut o = json!({ "op": op });
                if let Some(p) = path {
                    o["path"] = Value::String(p);
                }
                if let Some(v) = value {
                    o["value"] = v;
                }
                o
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn apply_never_panics_and_is_all_or_nothing(
            doc in prop_oneof![Just(user()), Just(group()), any_json()],
            ops in prop::collection::vec(operation(), 1..6),
            is_user in any::<bool>(),
        ) {
            let kind = if is_user { ResourceKind::User } else { ResourceKind::Group };
            if let Ok(parsed) = parse_patch_request(&body(Value::Array(ops))) {
                let mut patched = doc.clone();
                match apply(kind, &mut patched, &parsed) {
                    Ok(_) => {
                        let obj = patched.as_object().unwrap();
                        prop_assert!(get_ci(obj, "password").is_none());
                        if kind == ResourceKind::Group {
                            prop_assert_eq!(get_ci(obj, "members"), doc.get("members"));
                        }
                    }
                    Err(e) => {
                        prop_assert_eq!(&patched, &doc);
                        prop_assert!(!e.detail.is_empty());
                    }
                }
            }
        }

        #[test]
        fn parse_never_panics(body in any_json()) {
            let _ = parse_patch_request(&body);
        }
    }
}
