//! Exclusive XML Canonicalization 1.0 without comments
//! (<http://www.w3.org/2001/10/xml-exc-c14n#>), with `InclusiveNamespaces PrefixList`.
//!
//! Written here rather than taken from a crate: when this was written the pure-Rust
//! canonicalizers published as crates were young single-author releases (0.1.x) with their
//! own parsers, while we need c14n over *our* roxmltree document (one parser for
//! the whole crate), of a subtree, with one element cut out (the enveloped
//! signature transform). The algorithm is small; the tests below pin it to
//! vectors from the W3C specification and to what libxml2 produces.
//!
//! What it does, for the element subtree at `apex`:
//! - comments are dropped, processing instructions kept, text and attribute
//!   values escaped as the spec says (roxmltree already normalized line ends,
//!   attribute whitespace and character references);
//! - a namespace declaration is written on an element when the element or one
//!   of its attributes uses the prefix ("visibly utilized"), or the prefix is in
//!   the inclusive list, and the nearest output ancestor did not already write
//!   the same binding; `xmlns=""` is written when an unprefixed element sits
//!   under an output ancestor that declared a default namespace;
//! - declarations are sorted by prefix, attributes by (namespace URI, local name);
//! - `xml:*` attributes of ancestors are not imported (exclusive c14n).

use roxmltree::{Node, NodeId};

use crate::error::XmlError;
use crate::xml::{attribute_qname, element_prefix, element_qname};

/// Canonicalizes the subtree at `apex`, leaving out the subtree `exclude` (if any).
///
/// `inclusive_prefixes` is the PrefixList, `#default` meaning the default namespace.
pub fn canonicalize(
    apex: Node<'_, '_>,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[String],
) -> Result<Vec<u8>, XmlError> {
    if !apex.is_element() {
        return Err(XmlError::Malformed("c14n apex is not an element".into()));
    }
    let inclusive: Vec<&str> = inclusive_prefixes
        .iter()
        .map(|p| if p == "#default" { "" } else { p.as_str() })
        .collect();
    let mut c = Canonicalizer {
        text: apex.document().input_text(),
        inclusive,
        exclude,
        rendered: Vec::new(),
        out: Vec::with_capacity(4096),
    };
    c.element(apex)?;
    Ok(c.out)
}

struct Canonicalizer<'a, 'i> {
    text: &'i str,
    inclusive: Vec<&'a str>,
    exclude: Option<NodeId>,
    /// Namespace bindings written by output ancestors, innermost last.
    rendered: Vec<(String, String)>,
    out: Vec<u8>,
}

impl Canonicalizer<'_, '_> {
    fn rendered_uri(&self, prefix: &str) -> &str {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map_or("", |(_, u)| u.as_str())
    }

    fn element(&mut self, node: Node<'_, '_>) -> Result<(), XmlError> {
        let qname = element_qname(self.text, node);
        let prefix = element_prefix(self.text, node);

        // Prefixes this element must have bound in the output.
        let mut wanted: Vec<&str> = vec![prefix];
        let mut attrs: Vec<(&str, &str, &str, &str)> = Vec::new(); // (ns, local, qname, value)
        for a in node.attributes() {
            let aq = attribute_qname(self.text, &a);
            if let Some((p, _)) = aq.split_once(':') {
                if p != "xml" {
                    wanted.push(p);
                }
            }
            attrs.push((a.namespace().unwrap_or(""), a.name(), aq, a.value()));
        }
        for p in &self.inclusive {
            if p.is_empty() || node.lookup_namespace_uri(Some(p)).is_some() {
                wanted.push(p);
            }
        }
        wanted.sort_unstable();
        wanted.dedup();

        let mut decls: Vec<(String, String)> = Vec::new();
        for p in wanted {
            if p == "xml" {
                continue;
            }
            let uri = if p.is_empty() {
                node.default_namespace().unwrap_or("")
            } else {
                node.lookup_namespace_uri(Some(p))
                    .ok_or_else(|| XmlError::Malformed(format!("unbound prefix {p}")))?
            };
            if self.rendered_uri(p) != uri {
                decls.push((p.to_owned(), uri.to_owned()));
            }
        }

        self.out.push(b'<');
        self.out.extend_from_slice(qname.as_bytes());
        // `wanted` was sorted, so decls are in prefix order with the default first.
        for (p, u) in &decls {
            if p.is_empty() {
                self.out.extend_from_slice(b" xmlns=\"");
            } else {
                self.out.extend_from_slice(b" xmlns:");
                self.out.extend_from_slice(p.as_bytes());
                self.out.extend_from_slice(b"=\"");
            }
            escape_attr(&mut self.out, u);
            self.out.push(b'"');
        }
        attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, aq, value) in &attrs {
            self.out.push(b' ');
            self.out.extend_from_slice(aq.as_bytes());
            self.out.extend_from_slice(b"=\"");
            escape_attr(&mut self.out, value);
            self.out.push(b'"');
        }
        self.out.push(b'>');

        let mark = self.rendered.len();
        self.rendered.extend(decls);
        for child in node.children() {
            if Some(child.id()) == self.exclude {
                continue;
            }
            if child.is_element() {
                self.element(child)?;
            } else if child.is_text() {
                escape_text(&mut self.out, child.text().unwrap_or_default());
            } else if let Some(pi) = child.pi() {
                self.out.extend_from_slice(b"<?");
                self.out.extend_from_slice(pi.target.as_bytes());
                if let Some(v) = pi.value {
                    if !v.is_empty() {
                        self.out.push(b' ');
                        self.out.extend_from_slice(v.as_bytes());
                    }
                }
                self.out.extend_from_slice(b"?>");
            }
            // comments: dropped (c14n without comments)
        }
        self.rendered.truncate(mark);

        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(qname.as_bytes());
        self.out.push(b'>');
        Ok(())
    }
}

fn escape_attr(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\t' => out.extend_from_slice(b"&#x9;"),
            b'\n' => out.extend_from_slice(b"&#xA;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(b),
        }
    }
}

fn escape_text(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'\r' => out.extend_from_slice(b"&#xD;"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

    fn c14n_of(xml: &str, path: &[&str], prefixes: &[&str]) -> String {
        let doc = parse(xml).unwrap();
        let mut node = doc.root_element();
        for name in path {
            node = node
                .descendants()
                .find(|n| n.is_element() && n.tag_name().name() == *name)
                .unwrap();
        }
        let p: Vec<String> = prefixes.iter().map(|s| s.to_string()).collect();
        String::from_utf8(canonicalize(node, None, &p).unwrap()).unwrap()
    }

    // W3C exc-c14n spec, section 2.2: the same element under two different
    // ancestors canonicalizes the same way (inclusive c14n would differ).
    #[test]
    fn spec_example_namespace_context_does_not_leak() {
        let a = r#"<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n0:local>"#;
        let b = r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#;
        let expected = r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#;
        assert_eq!(c14n_of(a, &["elem2"], &[]), expected);
        assert_eq!(c14n_of(b, &["elem2"], &[]), expected);
    }

    // Same spec section: with InclusiveNamespaces PrefixList="n2" the binding of
    // n2 from the ancestor is carried onto the apex.
    #[test]
    fn spec_example_inclusive_prefix_list() {
        let b = r#"<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain"><n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"/></n1:elem2></n2:pdu>"#;
        assert_eq!(
            c14n_of(b, &["elem2"], &["n2"]),
            r#"<n1:elem2 xmlns:n1="http://example.net" xmlns:n2="http://foo.example" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
        );
    }

    #[test]
    fn sorting_escaping_comments_and_default_namespace() {
        let xml = "<r xmlns=\"urn:d\" xmlns:b=\"urn:b\" xmlns:a=\"urn:a\"><e b:z=\"1\" a:y=\"2\" x=\"&quot;&lt;&#9;&#10;\" w='a&gt;b'>t&amp;&lt;&gt;\r\n<!-- gone --><![CDATA[<c>]]><?pi  data?></e><n:q xmlns:n=\"urn:n\"><u xmlns=\"\"/></n:q></r>";
        assert_eq!(
            c14n_of(xml, &["e"], &[]),
            "<e xmlns=\"urn:d\" xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" w=\"a>b\" x=\"&quot;&lt;&#x9;&#xA;\" a:y=\"2\" b:z=\"1\">t&amp;&lt;&gt;\n&lt;c&gt;<?pi data?></e>"
        );
        // An unprefixed element in no namespace under a default namespace that
        // was rendered gets xmlns=""; the apex itself does not need it.
        assert_eq!(
            c14n_of(xml, &[], &[]).rsplit("<n:q").next().unwrap(),
            " xmlns:n=\"urn:n\"><u xmlns=\"\"></u></n:q></r>"
        );
        assert_eq!(c14n_of(xml, &["u"], &[]), "<u></u>");
    }

    #[test]
    fn unused_inherited_prefix_is_left_out_unless_listed() {
        let xml = r#"<p:r xmlns:p="urn:p" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><p:v xsi:type="xs:string">x</p:v></p:r>"#;
        assert_eq!(
            c14n_of(xml, &["v"], &[]),
            r#"<p:v xmlns:p="urn:p" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">x</p:v>"#
        );
        assert_eq!(
            c14n_of(xml, &["v"], &["xs"]),
            r#"<p:v xmlns:p="urn:p" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">x</p:v>"#
        );
    }

    #[test]
    fn excluded_subtree_is_cut() {
        let xml = r#"<r ID="1"><a/><ds:Signature xmlns:ds="urn:ds"><x/></ds:Signature><b/></r>"#;
        let doc = parse(xml).unwrap();
        let sig = doc
            .descendants()
            .find(|n| n.tag_name().name() == "Signature")
            .unwrap();
        let out = canonicalize(doc.root_element(), Some(sig.id()), &[]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"<r ID="1"><a></a><b></b></r>"#
        );
    }
}
