//! Tracking codes: what a citizen reads off a cheap phone's screen and types back.
//!
//! `LPR-` and six characters from an alphabet without the look-alikes 0/O and
//! 1/I: 32^6 ≈ 10^9 codes. Uniqueness is enforced where codes are stored
//! (the outbox transaction retries on collision), not by hoping.

use rand::Rng;

pub const PREFIX: &str = "LPR-";
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const LEN: usize = 6;

pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    let mut s = String::with_capacity(PREFIX.len() + LEN);
    s.push_str(PREFIX);
    for _ in 0..LEN {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

/// The six characters of a code as a 30-bit number (5 bits each), so stores can
/// keep a code in 4 bytes; `None` for anything [`is_valid`] rejects.
pub fn pack(code: &str) -> Option<u32> {
    if !is_valid(code) {
        return None;
    }
    code[PREFIX.len()..].bytes().try_fold(0u32, |acc, b| {
        let digit = ALPHABET.iter().position(|&a| a == b)? as u32;
        Some(acc << 5 | digit)
    })
}

/// The code packed by [`pack`] (only the low 30 bits are read).
pub fn unpack(packed: u32) -> String {
    let mut s = String::with_capacity(PREFIX.len() + LEN);
    s.push_str(PREFIX);
    for i in (0..LEN).rev() {
        s.push(ALPHABET[(packed >> (5 * i) & 31) as usize] as char);
    }
    s
}

/// Find a tracking code in free text (`lpr 7k3q9x`, `LPR-7K3Q9X`, `Re: [LPR-…]`).
/// Look-alikes (0/O, 1/I) are not in the alphabet, so a mistyped code fails to
/// match instead of being guessed into someone else's complaint.
pub fn find_in(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut i = 0;
    while let Some(pos) = upper[i..].find("LPR") {
        let start = i + pos;
        let mut j = start + 3;
        while j < bytes.len() && matches!(bytes[j], b'-' | b' ' | b'_' | b':') {
            j += 1;
        }
        let code: Vec<u8> = bytes[j..].iter().take(LEN).copied().collect();
        let boundary_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let end_ok = bytes.get(j + LEN).is_none_or(|b| !b.is_ascii_alphanumeric());
        if boundary_ok && end_ok && code.len() == LEN && code.iter().all(|c| ALPHABET.contains(c)) {
            return Some(format!("{PREFIX}{}", String::from_utf8_lossy(&code)));
        }
        i = start + 3;
    }
    None
}

pub fn is_valid(code: &str) -> bool {
    code.strip_prefix(PREFIX)
        .is_some_and(|c| c.len() == LEN && c.bytes().all(|b| ALPHABET.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_valid_and_readable() {
        for _ in 0..1000 {
            let c = generate();
            assert!(is_valid(&c), "{c}");
            assert!(!c[4..].contains(['0', 'O', '1', 'I']));
        }
    }

    #[test]
    fn codes_pack_into_30_bits_and_back() {
        for _ in 0..1000 {
            let c = generate();
            let p = pack(&c).unwrap();
            assert!(p < 1 << 30);
            assert_eq!(unpack(p), c);
        }
        assert_eq!(pack("LPR-222222"), Some(0));
        assert_eq!(unpack(0), "LPR-222222");
        assert_eq!(pack("LPR-ZZZZZZ"), Some((1 << 30) - 1));
        assert_eq!(pack("LPR-0O1I23"), None);
        assert_eq!(pack("LPR-22222"), None);
        assert_eq!(pack("XYZ-222222"), None);
    }

    #[test]
    fn finds_codes_in_text() {
        assert_eq!(
            find_in("Re: Laporan Anda [LPR-7K3Q9X] diterima").as_deref(),
            Some("LPR-7K3Q9X")
        );
        assert_eq!(
            find_in("lpr 7k3q9x masih belum ditangani").as_deref(),
            Some("LPR-7K3Q9X")
        );
        assert_eq!(find_in("LPR-7K3Q9XY"), None);
        assert_eq!(find_in("LPR-0O1I23"), None);
        assert_eq!(find_in("no code here"), None);
    }
}
