//! Random identifiers (session keys, request ids).

/// `prefix` followed by `bytes` random bytes in lowercase hex, or `None`
/// when the operating system's random source fails.
#[must_use]
pub fn random_hex(prefix: &str, bytes: usize) -> Option<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).ok()?;
    let mut s = String::with_capacity(prefix.len() + bytes * 2);
    s.push_str(prefix);
    for b in buf {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    Some(s)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_and_length() {
        let a = super::random_hex("hc-", 12).unwrap_or_default();
        let b = super::random_hex("hc-", 12).unwrap_or_default();
        assert!(a.starts_with("hc-") && a.len() == 3 + 24, "{a}");
        assert!(
            a[3..]
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
