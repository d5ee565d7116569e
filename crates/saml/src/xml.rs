//! The one XML parser of the crate (roxmltree) with its limits, and small
//! helpers to walk namespaced elements.
//!
//! roxmltree refuses any DTD by default (no entity expansion, no external
//! resources); we keep that default and say so explicitly, and bound the input
//! size, the node count and the nesting depth so a hostile document costs little.
//!
//! The nesting depth is bounded *before* roxmltree runs: its tokenizer recurses once
//! per open element, so a few thousand nested elements (tens of KiB) would overflow a
//! server thread's stack long before a check on the finished tree could run.
//! [`check_nesting`] is a linear scan over the bytes that counts open elements the way
//! the tokenizer will nest them, erring only on the side of counting more.

use roxmltree::{Document, Node, ParsingOptions};

use crate::error::XmlError;

/// Largest XML document (decoded bytes) the crate will look at.
pub const MAX_XML_BYTES: usize = 256 * 1024;
/// Largest number of nodes (elements, attributes' owners, text, ...) in one document.
pub const MAX_NODES: u32 = 50_000;
/// Deepest element nesting accepted (the root element is level 1); SAML needs about ten.
/// Every recursive walk of the crate over a parsed tree (c14n) is bounded by it too.
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
    check_nesting(text)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::DtdRefused,
        roxmltree::Error::NodesLimitReached => XmlError::TooManyNodes { limit: MAX_NODES },
        other => XmlError::Malformed(other.to_string()),
    })
}

/// Refuses `text` if its elements nest deeper than [`MAX_DEPTH`], without recursion and
/// without parsing: one pass over the bytes, no allocation.
///
/// Written by hand because the point is to run before any XML parser does. It follows the
/// tokenizer's reading of markup: comments, CDATA sections and processing instructions
/// are skipped to their terminators (an element inside them is text), quoted attribute
/// values are skipped inside tags, `</…>` and `/>` close an element. Every other `<`
/// counts as an element opening, even where the parser would then fail, so the count is
/// never below the parser's nesting. Where the scan cannot read on (an unterminated
/// comment, quote or tag, a `<!DOCTYPE` or other declaration) the parser refuses the
/// document at that very place, no deeper than the scan has counted, so the scan stops
/// and leaves the error to it.
pub fn check_nesting(text: &str) -> Result<(), XmlError> {
    if nests_deeper_than(text, MAX_DEPTH) {
        return Err(XmlError::TooDeep { limit: MAX_DEPTH });
    }
    Ok(())
}

/// The scan of [`check_nesting`] with the limit as a parameter (the tests try small ones).
fn nests_deeper_than(text: &str, limit: usize) -> bool {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut at = 0usize;
    while let Some(found) = find_byte(bytes, at, b'<') {
        let rest = bytes.get(found..).unwrap_or_default();
        let resume = if rest.starts_with(b"<!--") {
            find_seq(bytes, found + 4, b"-->").map(|end| end + 3)
        } else if rest.starts_with(b"<![CDATA[") {
            find_seq(bytes, found + 9, b"]]>").map(|end| end + 3)
        } else if rest.starts_with(b"<?") {
            find_seq(bytes, found + 2, b"?>").map(|end| end + 2)
        } else if rest.starts_with(b"<!") {
            // A DOCTYPE (refused) or no markup XML knows: the parser stops here.
            None
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            find_byte(bytes, found + 2, b'>').map(|end| end + 1)
        } else {
            depth += 1;
            if depth > limit {
                return true;
            }
            match end_of_start_tag(bytes, found + 1) {
                Some((end, empty)) => {
                    if empty {
                        depth -= 1;
                    }
                    Some(end)
                }
                None => None,
            }
        };
        match resume {
            Some(next) => at = next,
            None => return false,
        }
    }
    false
}

/// From just after `<` of a start tag: the position after its `>` and whether it was `/>`,
/// skipping quoted attribute values (which may hold `>`); `None` if the tag never ends.
fn end_of_start_tag(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    loop {
        match bytes.get(at)? {
            quote @ (b'"' | b'\'') => at = find_byte(bytes, at + 1, *quote)? + 1,
            b'>' => return Some((at + 1, false)),
            b'/' if bytes.get(at + 1) == Some(&b'>') => return Some((at + 2, true)),
            _ => at += 1,
        }
    }
}

fn find_byte(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    let tail = bytes.get(from..)?;
    tail.iter().position(|b| *b == byte).map(|i| from + i)
}

fn find_seq(bytes: &[u8], from: usize, seq: &[u8]) -> Option<usize> {
    let tail = bytes.get(from..)?;
    tail.windows(seq.len())
        .position(|w| w == seq)
        .map(|i| from + i)
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

    /// `n` nested `<a>` around `inner`.
    fn nested(n: usize, inner: &str) -> String {
        format!("{}{inner}{}", "<a>".repeat(n), "</a>".repeat(n))
    }

    /// The deepest element nesting of a parsed document (root element: 1).
    fn element_depth(doc: &Document<'_>) -> usize {
        doc.descendants()
            .filter(|n| n.is_element())
            .map(|n| n.ancestors().filter(|a| a.is_element()).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn nesting_exactly_at_the_limit_parses_and_one_more_is_refused() {
        let at_limit = nested(MAX_DEPTH, "text");
        let doc = parse(&at_limit).unwrap();
        assert_eq!(element_depth(&doc), MAX_DEPTH);
        let at_limit_empty = nested(MAX_DEPTH - 1, "<b/>");
        assert_eq!(element_depth(&parse(&at_limit_empty).unwrap()), MAX_DEPTH);
        for over in [nested(MAX_DEPTH + 1, ""), nested(MAX_DEPTH, "<b/>")] {
            assert_eq!(
                parse(&over).unwrap_err(),
                XmlError::TooDeep { limit: MAX_DEPTH }
            );
        }
    }

    #[test]
    fn a_deep_document_is_refused_before_the_parser_recurses() {
        // The document of the report: 5,000 nested elements, about 28 KB, which overflowed a
        // 2 MiB stack inside roxmltree. Run on a thread with a quarter of that stack: the scan
        // must not need the parser's recursion at all.
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| {
                let deep = nested(5_000, "");
                assert!(deep.len() < 40_000);
                let refused = parse(&deep).unwrap_err();
                // With attributes and namespaces, and left unclosed: still refused by count.
                let unclosed = r#"<a:x xmlns:a="u" k="v">"#.repeat(5_000);
                (refused, parse(&unclosed).unwrap_err())
            })
            .unwrap();
        let (refused, unclosed) = handle.join().unwrap();
        assert_eq!(refused, XmlError::TooDeep { limit: MAX_DEPTH });
        assert_eq!(unclosed, XmlError::TooDeep { limit: MAX_DEPTH });
        // The scan itself allocates nothing and recurses nowhere, whatever the depth.
        assert!(check_nesting(&"<a>".repeat(1_000_000)).is_err());
    }

    #[test]
    fn markup_that_is_not_an_element_does_not_count() {
        let deep = nested(200, "");
        for inside in [
            format!("<!--{deep}-->"),
            format!("<![CDATA[{deep}]]>"),
            format!("<?keep {deep}?>"),
        ] {
            let doc = format!("<r>{inside}</r>");
            assert_eq!(check_nesting(&doc), Ok(()), "{inside:.40}");
            let parsed = parse(&doc).unwrap();
            assert_eq!(element_depth(&parsed), 1);
        }
        // A `>` (or `/>`) inside a quoted attribute value ends nothing.
        let quoted = format!(
            "{}{}",
            r#"<a x=">" y='/>'>"#.repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(
            check_nesting(&quoted),
            Err(XmlError::TooDeep { limit: MAX_DEPTH })
        );
        // Empty elements, closed siblings and spaced end tags do not add up.
        let flat = format!("<r>{}</r>", "<a/><b x='1' /><c></c ><d>t</d>".repeat(1000));
        assert_eq!(check_nesting(&flat), Ok(()));
        assert!(parse(&flat).is_ok());
    }

    #[test]
    fn tricks_cannot_hide_elements_from_the_count() {
        let deep = nested(MAX_DEPTH + 1, "");
        for doc in [
            // Quotes in text are only text.
            format!("<r>\"{deep}\"</r>"),
            format!("<r>'{deep}'</r>"),
            // A comment, CDATA or PI that ends before the elements hides nothing.
            format!("<r><!-- x -->{deep}</r>"),
            format!("<r><![CDATA[ ]]>{deep}</r>"),
            format!("<?xml version=\"1.0\"?><r><?p x?>{deep}</r>"),
            // Near-terminators do not end them early or late.
            format!("<r><!-- ->- -- >-->{deep}</r>"),
            format!("<r><![CDATA[ ]] ]>]]>{deep}</r>"),
            format!("<r><?p ? > ?>{deep}</r>"),
            // Closing tags without openings cannot pay for later openings.
            format!("{}{deep}", "</a>".repeat(100)),
            // Start tags the parser would refuse still count.
            "<a/b>".repeat(MAX_DEPTH + 1),
            "< a>".repeat(MAX_DEPTH + 1),
        ] {
            assert_eq!(
                check_nesting(&doc),
                Err(XmlError::TooDeep { limit: MAX_DEPTH }),
                "{doc:.60}"
            );
        }
        // Where the scan stops reading, the parser refuses at the same place.
        for doc in [
            format!("<r><!-- never closed {deep}"),
            format!("<r x=\"never closed {deep}"),
            format!("<!DOCTYPE r>{deep}"),
            format!("<r><!ENTITY x>{deep}</r>"),
        ] {
            assert_eq!(check_nesting(&doc), Ok(()), "{doc:.60}");
            assert!(
                matches!(
                    parse(&doc),
                    Err(XmlError::Malformed(_) | XmlError::DtdRefused)
                ),
                "{doc:.60}"
            );
        }
    }

    /// Pieces of markup, well-formed or not, spliced into the proptest's documents.
    const PIECES: &[&str] = &[
        "<a>",
        "</a>",
        "<a/>",
        "<a x='>'>",
        "<a x=\"/>\">",
        "</b:c>",
        "<!--<a>-->",
        "<![CDATA[<a>]]>",
        "<?p <a>?>",
        "\"",
        "'",
        "<",
        ">",
        "/>",
        "/",
        "<!",
        "<!--",
        "-->",
        "]]>",
        "?>",
        "<a ",
        "=",
    ];

    /// Content that holds no element: text and markup whose `<a>` is not an element.
    const NOT_ELEMENTS: &[&str] = &[
        "text",
        " ",
        "&amp;",
        "\"'",
        "<!-- <a> </a -->",
        "<![CDATA[ <a><a> ]]>",
        "<?pi <a> ?>",
        "/>",
        ">",
    ];

    /// A well-formed element tree with tricky attributes and content, as XML text.
    fn tree() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let attrs = prop::sample::select(vec![
            "",
            " x='>'",
            " y=\"/>\"",
            " z='</a>' w=\"<!--\"",
            " xmlns:b='u' b:q=\"'\"",
        ]);
        let leaf = (
            attrs.clone(),
            prop::sample::select(NOT_ELEMENTS.to_vec()),
            any::<bool>(),
        )
            .prop_map(|(a, text, empty)| {
                if empty {
                    format!("<a{a}/>")
                } else {
                    format!("<a{a}>{text}</a>")
                }
            });
        leaf.prop_recursive(14, 64, 4, move |inner| {
            (
                attrs.clone(),
                prop::collection::vec(
                    prop_oneof![
                        inner,
                        prop::sample::select(NOT_ELEMENTS.to_vec()).prop_map(String::from)
                    ],
                    0..4,
                ),
            )
                .prop_map(|(a, children)| format!("<a{a}>{}</a >", children.concat()))
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// The scan never counts less than the parser nests: with any limit, a document the
        /// scan lets through never parses deeper than that limit; on a well-formed document
        /// the count is exact, so nothing valid is refused. Documents are trees with tricky
        /// content, some with stray markup spliced in.
        #[test]
        fn the_scan_never_counts_less_than_the_parser_nests(
            doc in tree(),
            splices in proptest::collection::vec((0..PIECES.len(), proptest::prelude::any::<proptest::sample::Index>()), 0..3),
            limit in 0usize..16,
        ) {
            let mut text = doc;
            for (piece, at) in &splices {
                let mut at = at.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.insert_str(at, PIECES[*piece]);
            }
            let options = ParsingOptions { allow_dtd: false, nodes_limit: MAX_NODES };
            if let Ok(doc) = Document::parse_with_options(&text, options) {
                let depth = element_depth(&doc);
                proptest::prop_assert!(
                    depth <= limit || nests_deeper_than(&text, limit),
                    "parsed {depth} deep, the scan let it through at {limit}: {text}"
                );
                if splices.is_empty() {
                    proptest::prop_assert!(!nests_deeper_than(&text, depth), "{}", text);
                }
            }
        }
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
