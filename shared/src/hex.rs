//! Bytes as lowercase hex: cache keys, tokens, sealed states.

/// `bytes` as lowercase hex, two digits each.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_digits_per_byte() {
        assert_eq!(super::hex(&[0, 15, 255]), "000fff");
        assert_eq!(super::hex(&[]), "");
    }
}
