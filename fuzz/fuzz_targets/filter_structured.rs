//! Filters built as ASTs from real attribute names, operators and values: printing one and
//! parsing it back gives the same AST, and evaluation never panics.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use scim::filter::{CompValue, CompareOp, Filter};
use scim::path::AttrPath;

const ATTRS: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
    "members",
    "groups",
    "externalId",
    "title",
    "id",
    "meta",
    "roles",
    "not",
    "and",
    "or",
];
const SUBS: &[&str] = &[
    "value",
    "type",
    "primary",
    "display",
    "givenName",
    "familyName",
    "lastModified",
    "created",
    "locality",
    "manager",
    "department",
];
const SCHEMAS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
];

#[derive(Arbitrary, Debug)]
enum Node {
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Present(PathSpec),
    Compare(PathSpec, u8, Val),
    ValuePath(u8, Box<Node>),
}

#[derive(Arbitrary, Debug)]
struct PathSpec {
    schema: Option<u8>,
    attr: u8,
    sub: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Date(u8),
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

fn attr_path(p: &PathSpec, in_brackets: bool) -> AttrPath {
    if in_brackets {
        return AttrPath::new(pick(SUBS, p.attr));
    }
    AttrPath {
        schema: p.schema.map(|s| pick(SCHEMAS, s).to_string()),
        attr: pick(ATTRS, p.attr).to_string(),
        sub_attr: p.sub.map(|s| pick(SUBS, s).to_string()),
    }
}

fn comp_value(v: &Val) -> CompValue {
    match v {
        Val::Null => CompValue::Null,
        Val::Bool(b) => CompValue::Bool(*b),
        Val::Int(n) => CompValue::Number((*n).into()),
        Val::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(CompValue::Null, CompValue::Number)
        }
        Val::Str(s) => CompValue::String(s.clone()),
        Val::Date(i) => CompValue::String(
            pick(
                &[
                    "2011-05-13T04:42:34Z",
                    "2011-05-13T04:42:34.5+02:00",
                    "2011-05-13",
                    "x",
                ],
                *i,
            )
            .to_string(),
        ),
    }
}

/// `depth` counts the parentheses and brackets the printed filter will need, at most.
fn build(node: &Node, in_brackets: bool, depth: usize) -> Filter {
    if depth > 24 {
        return Filter::Present(AttrPath::new("userName"));
    }
    match node {
        Node::And(a, b) => Filter::And(
            Box::new(build(a, in_brackets, depth + 1)),
            Box::new(build(b, in_brackets, depth + 1)),
        ),
        Node::Or(a, b) => Filter::Or(
            Box::new(build(a, in_brackets, depth + 1)),
            Box::new(build(b, in_brackets, depth + 1)),
        ),
        Node::Not(a) => Filter::Not(Box::new(build(a, in_brackets, depth + 1))),
        Node::Present(p) => Filter::Present(attr_path(p, in_brackets)),
        Node::Compare(p, op, v) => Filter::Compare(
            attr_path(p, in_brackets),
            CompareOp::ALL[usize::from(*op) % CompareOp::ALL.len()],
            comp_value(v),
        ),
        Node::ValuePath(attr, inner) if !in_brackets => Filter::ValuePath(
            AttrPath::new(pick(
                &[
                    "emails",
                    "phoneNumbers",
                    "addresses",
                    "members",
                    "groups",
                    "roles",
                ],
                *attr,
            )),
            Box::new(build(inner, true, depth + 1)),
        ),
        Node::ValuePath(_, inner) => build(inner, in_brackets, depth + 1),
    }
}

fuzz_target!(|data: &[u8]| scim_fuzz::on_worker_stack(data, run));

/// One input, on a thread with the server's stack size.
fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(node) = Node::arbitrary(&mut u) else {
        return;
    };
    let filter = build(&node, false, 0);
    scim_fuzz::check_parsed_filter(&filter);
}
