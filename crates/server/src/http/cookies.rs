//! Reading the cookies of a request, and the attribute every cookie of ours shares.

use axum::http::{header, HeaderMap};

/// The value of cookie `name`, if the request carries one that is not empty.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// Cookies are Secure whenever browsers reach us over https.
pub fn secure_attribute(base_url: &str) -> &'static str {
    if base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_only_over_https() {
        assert_eq!(secure_attribute("https://id.example.com"), "; Secure");
        assert_eq!(secure_attribute("http://127.0.0.1:8080"), "");
    }
}
