//! Public mail domains: anyone can get an address there, so none of them can send its people
//! to one organization's identity provider. They are refused as login domains outright, with
//! [`REFUSAL`] as the reason.
//!
//! The list is deliberately short and well known (the big free mail services). It is matched
//! against the whole normalised domain; a [`PUBLIC_MAIL_BRANDS`] entry also matches that
//! brand under any country code (`gmx.de`, `yandex.com.tr`, `yahoo.co.jp`). Migration 0008
//! repeats this list in SQL for the upgrade of existing login domains: change both together.

/// Exact domains of free mail services.
pub const PUBLIC_MAIL_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "mail.ru",
    "qq.com",
    "163.com",
    "126.com",
    "yeah.net",
    "zoho.com",
    "mail.com",
    "web.de",
    "fastmail.com",
    "tutanota.com",
    "hey.com",
    "duck.com",
];

/// Brands that run the same free service under many country domains: `<brand>.<tld>`,
/// `<brand>.co.<tld>` and `<brand>.com.<tld>` are all public.
pub const PUBLIC_MAIL_BRANDS: &[&str] = &["gmx", "yandex", "yahoo", "hotmail", "outlook", "live"];

/// What the admin is told when a public mail domain is refused.
pub const REFUSAL: &str = "is a public mail domain: anyone can get an address there, so it cannot send its people to one organization's sign-in; list your company's own domains";

/// Whether a normalised (lower-case, no trailing dot) domain is a public mail domain.
pub fn is_public_mail_domain(domain: &str) -> bool {
    if PUBLIC_MAIL_DOMAINS.contains(&domain) {
        return true;
    }
    let Some((brand, rest)) = domain.split_once('.') else {
        return false;
    };
    if !PUBLIC_MAIL_BRANDS.contains(&brand) {
        return false;
    }
    let country = rest
        .strip_prefix("co.")
        .or_else(|| rest.strip_prefix("com."))
        .unwrap_or(rest);
    !country.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_mail_services_are_public_and_companies_are_not() {
        for d in [
            "gmail.com",
            "googlemail.com",
            "outlook.com",
            "proton.me",
            "gmx.de",
            "gmx.net",
            "yandex.ru",
            "yandex.com.tr",
            "yahoo.co.jp",
            "hotmail.fr",
            "qq.com",
            "163.com",
        ] {
            assert!(is_public_mail_domain(d), "{d}");
        }
        for d in [
            "acme.com",
            "gmail.acme.com",
            "mail.acme.com",
            "gmx.example.com",
            "live.acme.co.uk",
            "notgmail.com",
            "com",
        ] {
            assert!(!is_public_mail_domain(d), "{d}");
        }
    }
}
