//! A `multipart/form-data` body, read whole (the caller bounds its size) and split into
//! parts. Enough for the console's one upload form; anything malformed is `None`, which the
//! caller answers with a 400 page.

/// One field of the form: its name, the file name when it is a file, and its bytes.
pub(crate) struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
}

pub(crate) struct Multipart(Vec<Part>);

impl Multipart {
    pub(crate) fn part(&self, name: &str) -> Option<&Part> {
        self.0.iter().find(|p| p.name == name)
    }

    /// A text field, decoded leniently (a wrong value, never a failure).
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.part(name)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    }
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        // RFC 2046: 1 to 70 characters.
        .filter(|b| !b.is_empty() && b.len() <= 70)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The parameter `name` of a `Content-Disposition` header value.
fn disposition_param(value: &str, name: &str) -> Option<String> {
    value
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

pub(crate) fn parse(body: &[u8], boundary: &str) -> Option<Multipart> {
    let delimiter = format!("--{boundary}").into_bytes();
    let next_delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = body.get(at..)?;
        if rest.starts_with(b"--") {
            return Some(Multipart(parts));
        }
        if !rest.starts_with(b"\r\n") {
            return None;
        }
        let headers_start = at + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start)?;
        let headers = std::str::from_utf8(&body[headers_start..headers_end]).ok()?;
        let disposition = headers
            .split("\r\n")
            .filter_map(|h| h.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-disposition"))
            .map(|(_, v)| v.trim())?;
        let name = disposition_param(disposition, "name")?;
        let filename = disposition_param(disposition, "filename");
        let data_start = headers_end + 4;
        let data_end = find(body, &next_delimiter, data_start)?;
        parts.push(Part {
            name,
            filename,
            data: body[data_start..data_end].to_vec(),
        });
        at = data_end + next_delimiter.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ncsrf_1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"; filename=\"okta.xml\"\r\nContent-Type: text/xml\r\n\r\n<a>\r\n</a>\r\n--XyZ--\r\n";
        let ct = "multipart/form-data; boundary=XyZ";
        let m = parse(body, &boundary(ct).unwrap()).unwrap();
        assert_eq!(m.text("csrf").as_deref(), Some("csrf_1"));
        let f = m.part("metadata").unwrap();
        assert_eq!(f.filename.as_deref(), Some("okta.xml"));
        assert_eq!(f.data, b"<a>\r\n</a>");
        assert!(m.part("other").is_none());
    }

    #[test]
    fn malformed_bodies_are_none() {
        for body in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
            b"--XyZ\r\nNo-Disposition: x\r\n\r\nv\r\n--XyZ--",
            b"--XyZjunk",
        ] {
            assert!(parse(body, "XyZ").is_none(), "{body:?}");
        }
        assert!(boundary("application/x-www-form-urlencoded").is_none());
        assert!(boundary("multipart/form-data").is_none());
        assert!(boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))).is_none());
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"q\"").as_deref(),
            Some("q")
        );
    }
}
