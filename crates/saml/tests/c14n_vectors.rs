//! Exclusive c14n against vectors produced by libxml2 (through lxml) in
//! tests/fixtures/make_fixtures.py: an independent implementation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use saml::c14n::canonicalize;

#[test]
fn canonical_forms_match_libxml2() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/c14n-vectors.json");
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(vectors.len() >= 10);
    for v in vectors {
        let doc_text = v["document"].as_str().unwrap();
        let apex_name = v["apex"].as_str().unwrap();
        let prefixes: Vec<String> = v["prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect();
        let doc = saml::xml::parse(doc_text).unwrap();
        let apex = doc
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == apex_name)
            .unwrap();
        let got = String::from_utf8(canonicalize(apex, None, &prefixes).unwrap()).unwrap();
        assert_eq!(got, v["canonical"].as_str().unwrap(), "document {doc_text}");
    }
}
