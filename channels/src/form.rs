//! `application/x-www-form-urlencoded` decoding that keeps raw bytes.
//!
//! SMS gateways URL-encode the message bytes in whatever charset the handset
//! used (UCS-2, Latin-1, GSM-7); decoding straight to `String` would destroy
//! them before the charset is known.

/// Decode `a=1&b=%FF+x` into (name, raw bytes) pairs; later duplicates are kept.
pub fn parse_bytes(input: &[u8]) -> Vec<(String, Vec<u8>)> {
    input
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (String::from_utf8_lossy(&decode(k)).into_owned(), decode(v))
        })
        .collect()
}

fn decode(s: &[u8]) -> Vec<u8> {
    let plus: Vec<u8> = s.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
    percent_encoding::percent_decode(&plus).collect()
}

/// Lookup helper over decoded pairs.
#[derive(Debug, Default, Clone)]
pub struct Fields(Vec<(String, Vec<u8>)>);

impl Fields {
    pub fn from_bytes(input: &[u8]) -> Fields {
        Fields(parse_bytes(input))
    }

    /// Query and body together (query first), as Kannel's get-url and post-url mix them.
    pub fn merged(query: &[u8], body: &[u8]) -> Fields {
        let mut f = parse_bytes(query);
        f.extend(parse_bytes(body));
        Fields(f)
    }

    pub fn raw(&self, name: &str) -> Option<&[u8]> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
    }

    /// The field as UTF-8 text; invalid bytes become U+FFFD.
    pub fn text(&self, name: &str) -> Option<String> {
        self.raw(name).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The field, trimmed, treating empty as absent.
    pub fn non_empty(&self, name: &str) -> Option<String> {
        self.text(name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    }

    pub fn pairs(&self) -> &[(String, Vec<u8>)] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_raw_bytes() {
        let f = Fields::from_bytes(b"text=%00%41%20%AC&from=%2B62812+1&flag");
        assert_eq!(f.raw("text"), Some(&[0x00, 0x41, 0x20, 0xAC][..]));
        assert_eq!(f.text("from").as_deref(), Some("+62812 1"));
        assert_eq!(f.raw("flag"), Some(&[][..]));
        assert_eq!(f.raw("none"), None);
    }
}
