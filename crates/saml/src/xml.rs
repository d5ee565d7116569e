//! The one XML parser of the crate (roxmltree) with its limits, and small
//! helpers to walk namespaced elements.
//!
//! roxmltree refuses any DTD by default (no entity expansion, no external
//! resources); we keep that default and say so explicitly, and bound the input
//! size, the node count and the nesting depth so a hostile document costs little.

use roxmltree::{Document, Node, ParsingOptions};

use crate::error::XmlError;

/// Largest XML document (decoded bytes) the crate will look at.
pub const MAX_XML_BYTES: usize = 256 * 1024;
/// Largest number of nodes (elements, attributes' owners, text, ...) in one document.
pub const MAX_NODES: u32 = 50_000;
/// Deepest element nesting accepted; SAML needs about ten.
pub const MAX_DEPTH: usize = 48;

pub mod ns {
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
    pub const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
}

/// Parses `text` with DTDs refused and the size, node and depth limits applied.
pub fn parse(text: &str) -> Result<Document<'_>, XmlError> {
    if text.len() > MAX_XML_BYTES {
        return Err(XmlError::TooLarge {
            limit: MAX_XML_BYTES,
        });
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::DtdRefused,
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes { limit: MAX_NODES },
        other => XmlError::Malformed(other.to_string()),
    })?;
    check_depth(&doc)?;
    Ok(doc)
}

fn check_depth(doc: &Document<'_>) -> Result<(), XmlError> {
    // Node ids are assigned in document order, so a parent's depth is known
    // before its children are visited.
    let mut depth = vec![0usize; doc.descendants().count() + 1];
    for node in doc.descendants() {
        let d = node
            .parent()
            .and_then(|p| depth.get(p.id().get_usize()).copied())
            .map_or(0, |d| d + 1);
        if d > MAX_DEPTH {
            return Err(XmlError::TooDeep { limit: MAX_DEPTH });
        }
        if let Some(slot) = depth.get_mut(node.id().get_usize()) {
            *slot = d;
        }
    }
    Ok(())
}

/// True when `node` is an element `{ns}local`.
pub fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// Element children named `{ns}local`.
pub fn children<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(*c, ns, local))
}

/// The only child `{ns}local`; `Ok(None)` when absent, an error when repeated.
pub fn single_child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    local: &'static str,
) -> Result<Option<Node<'a, 'i>>, XmlError> {
    let mut it = children(node, ns, local);
    let first = it.next();
    if it.next().is_some() {
        return Err(XmlError::Repeated(local));
    }
    Ok(first)
}

/// Like [`single_child`] but the child must be there.
pub fn required_child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    local: &'static str,
) -> Result<Node<'a, 'i>, XmlError> {
    single_child(node, ns, local)?.ok_or(XmlError::Missing(local))
}

/// All text of an element (text children only, concatenated), trimmed.
/// Elements inside are an error: SAML simple values never contain markup.
pub fn text_of(node: Node<'_, '_>) -> Result<String, XmlError> {
    let mut out = String::new();
    for c in node.children() {
        if c.is_text() {
            out.push_str(c.text().unwrap_or_default());
        } else if c.is_element() {
            return Err(XmlError::UnexpectedElement(c.tag_name().name().to_owned()));
        }
    }
    Ok(out.trim().to_owned())
}

/// The prefix an element was written with in the source ("" for none).
pub fn element_prefix<'i>(doc_text: &'i str, node: Node<'_, 'i>) -> &'i str {
    let start = node.range().start + 1; // skip '<'
    let rest = doc_text.get(start..).unwrap_or_default();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    let qname = rest.get(..end).unwrap_or_default();
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// The qualified name an element was written with in the source.
pub fn element_qname<'i>(doc_text: &'i str, node: Node<'_, 'i>) -> &'i str {
    let start = node.range().start + 1;
    let rest = doc_text.get(start..).unwrap_or_default();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default()
}

/// The qualified name an attribute was written with in the source.
pub fn attribute_qname<'i>(doc_text: &'i str, attr: &roxmltree::Attribute<'_, 'i>) -> &'i str {
    doc_text.get(attr.range_qname()).unwrap_or_default()
}

/// Escapes text for an XML attribute value or element content we generate.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctype_is_refused() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>"#;
        assert!(matches!(parse(xml), Err(XmlError::DtdRefused)));
        let xml = r#"<!DOCTYPE r SYSTEM "http://example.invalid/x.dtd"><r/>"#;
        assert!(matches!(parse(xml), Err(XmlError::DtdRefused)));
    }

    #[test]
    fn limits_hold() {
        let big = format!("<r>{}</r>", "a".repeat(MAX_XML_BYTES));
        assert!(matches!(parse(&big), Err(XmlError::TooLarge { .. })));
        let many = format!("<r>{}</r>", "<a/>".repeat(MAX_NODES as usize + 1));
        assert!(matches!(parse(&many), Err(XmlError::TooManyNodes { .. })));
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 2),
            "</a>".repeat(MAX_DEPTH + 2)
        );
        assert!(matches!(parse(&deep), Err(XmlError::TooDeep { .. })));
    }

    #[test]
    fn prefixes_come_from_the_source() {
        let xml = r#"<a:r xmlns:a="u" xmlns:b="u"><b:c b:x="1"/></a:r>"#;
        let doc = parse(xml).unwrap();
        let c = doc.root_element().first_element_child().unwrap();
        assert_eq!(element_prefix(xml, doc.root_element()), "a");
        assert_eq!(element_prefix(xml, c), "b");
        let attr = c.attributes().next().unwrap();
        assert_eq!(attribute_qname(xml, &attr), "b:x");
    }
}
