//! Rule 2 for a regency or city name written with a letter wrong
//! (`kota probolingo`, `kabupaten bojonegro`, `kota lhoksumawe`).
//!
//! Only right after `kota`/`kab`/`kabupaten`: the prefix says a place name
//! follows, which is what makes a near miss safe to read as one. The word
//! must be long enough (six letters or more) for one edit — two from nine
//! letters — to leave it closer to one name than to any other, and must keep
//! its first letter (citizens rarely get that wrong, and it cuts the names
//! compared to a few dozen). A tie between two names reads as neither.

use super::engine::{Analysis, PlaceHit, PlaceKind, PrefixKind};
use super::text::NormText;
use super::Engine;

/// A regency or city name as the misspelling step compares it.
#[derive(Debug, Clone)]
pub(super) struct Name {
    /// The canonical bare name with its spaces removed (`tulungagung`).
    pub(super) joined: String,
    pub(super) regency: usize,
    pub(super) is_city: bool,
}

/// Shortest word read as a misspelt name.
const MIN_LEN: usize = 6;
/// How many prefixes of one text are looked at (keeps a hostile text linear).
const MAX_PREFIXES: usize = 8;

impl Engine {
    /// Places for prefixes followed by no known name but by a near miss of
    /// one name of the prefix's kind.
    pub(super) fn misspelt_places(&self, a: &Analysis, nt: &NormText) -> Vec<PlaceHit> {
        let mut out = Vec::new();
        let named: Vec<usize> = a.places.iter().map(|p| p.start).collect();
        for &(pe, kind) in a.prefix_ends.iter().take(MAX_PREFIXES) {
            let city = match kind {
                PrefixKind::City => true,
                PrefixKind::Regency => false,
                _ => continue,
            };
            let start = pe + 1;
            if named.contains(&start) {
                continue;
            }
            let tok = nt.tok_at(start);
            if tok >= nt.toks.len() || nt.toks[tok].start as usize != start {
                continue;
            }
            // The next word, and the next two joined (`tanjung pinag`).
            let one = nt.word(tok);
            let mut tries = vec![(one.to_string(), nt.toks[tok].end as usize)];
            if tok + 1 < nt.toks.len() {
                tries.push((format!("{one}{}", nt.word(tok + 1)), nt.toks[tok + 1].end as usize));
            }
            for (word, end) in tries {
                if let Some(r) = self.nearest_name(&word, city) {
                    out.push(PlaceHit {
                        start,
                        end,
                        tok,
                        kind: PlaceKind::Regency {
                            cands: vec![r],
                            default: r,
                            explicit: true,
                        },
                    });
                    break;
                }
            }
        }
        out
    }

    /// The one name of that kind within the allowed edits of `word`.
    fn nearest_name(&self, word: &str, city: bool) -> Option<usize> {
        if word.len() < MIN_LEN || !word.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        let allowed = if word.len() >= 9 { 2 } else { 1 };
        let first = word.as_bytes()[0];
        let mut best: Option<(usize, usize)> = None;
        let mut tie = false;
        for n in self.misspelt.iter().filter(|n| n.is_city == city) {
            let b = n.joined.as_bytes();
            if b.first() != Some(&first) || b.len().abs_diff(word.len()) > allowed || n.joined == word {
                continue;
            }
            let Some(d) = distance(word.as_bytes(), b, allowed) else {
                continue;
            };
            match best {
                Some((bd, _)) if d > bd => {}
                Some((bd, r)) if d == bd => tie |= r != n.regency,
                _ => {
                    best = Some((d, n.regency));
                    tie = false;
                }
            }
        }
        best.filter(|_| !tie).map(|(_, r)| r)
    }
}

/// Levenshtein distance of `a` and `b` if it is at most `max`.
fn distance(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &x) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, &y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[b.len()] <= max).then_some(prev[b.len()])
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn edit_distance_with_a_bound() {
        assert_eq!(distance(b"probolingo", b"probolinggo", 2), Some(1));
        assert_eq!(distance(b"bojonegro", b"bojonegoro", 2), Some(1));
        assert_eq!(distance(b"lhoksumawe", b"lhokseumawe", 2), Some(1));
        assert_eq!(distance(b"kendal", b"kendal", 1), Some(0));
        assert_eq!(distance(b"sebelah", b"semarang", 2), None);
    }
}
