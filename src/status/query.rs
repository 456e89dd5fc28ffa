//! Citizens' messages that are not complaints: a status query (`CEK
//! LPR-XXXXXX`, `STATUS LPR-XXXXXX`, or only the code) and the answer to
//! `selesai` (`PUAS` / `BELUM`, with or without the code).
//!
//! Only the complaint's own sender (same channel kind and address) is
//! answered with its status; anyone else gets the same neutral answer
//! whether the code exists or not, and every sender has a budget of
//! queries per hour, so codes cannot be enumerated.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::apply::Answer;
use crate::tracking;

/// What a short message asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Status(String),
    Answer(Answer, Option<String>),
}

/// Longest message looked at: a query is a few words.
const MAX_QUERY_CHARS: usize = 40;

/// Recognise a query; `None`: an ordinary message (a complaint).
pub fn parse(text: &str) -> Option<Query> {
    if text.chars().count() > MAX_QUERY_CHARS {
        return None;
    }
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c.to_ascii_uppercase()
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let code_of = |ws: &[&str]| -> Option<Option<String>> {
        let rest = ws.join(" ");
        if rest.is_empty() {
            return Some(None);
        }
        let code = tracking::find_in(&rest)?;
        // Nothing but the code (as "LPR-XXXXXX", "LPR XXXXXX" or "LPRXXXXXX").
        let compact: String = rest.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        (compact == code.replace('-', "")).then_some(Some(code))
    };
    match words.first().copied() {
        Some("CEK" | "STATUS" | "CEKSTATUS") => code_of(&words[1..]).flatten().map(Query::Status),
        Some("PUAS") => code_of(&words[1..]).map(|c| Query::Answer(Answer::Puas, c)),
        Some("BELUM") => code_of(&words[1..]).map(|c| Query::Answer(Answer::Belum, c)),
        Some(_) => code_of(&words).flatten().map(Query::Status),
        None => None,
    }
}

/// Per-sender query budget: `per_hour` in a fixed one-hour window per
/// sender; two generations of at most `max / 2` senders bound the memory.
pub struct QueryLimiter {
    per_hour: u32,
    half: usize,
    gens: Mutex<(Budgets, Budgets)>,
}

/// Sender → (start of its window, queries in it).
type Budgets = HashMap<[u8; 32], (Instant, u32)>;

const WINDOW: Duration = Duration::from_secs(3600);

impl QueryLimiter {
    pub fn new(per_hour: u32, max_senders: usize) -> QueryLimiter {
        QueryLimiter {
            per_hour,
            half: (max_senders / 2).max(1),
            gens: Mutex::new((HashMap::new(), HashMap::new())),
        }
    }

    /// Count one query of `sender` (a keyed hash); false: over the budget.
    pub fn allow(&self, sender: [u8; 32]) -> bool {
        self.allow_at(sender, Instant::now())
    }

    pub fn allow_at(&self, sender: [u8; 32], now: Instant) -> bool {
        let mut g = self.gens.lock();
        let (cur, old) = &mut *g;
        let mut entry = cur.remove(&sender).or_else(|| old.remove(&sender)).unwrap_or((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            entry = (now, 0);
        }
        let ok = entry.1 < self.per_hour;
        if ok {
            entry.1 += 1;
        }
        if cur.len() >= self.half {
            *old = std::mem::take(cur);
        }
        cur.insert(sender, entry);
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_recognised_and_complaints_are_not() {
        let s = |t: &str| Some(Query::Status(t.to_string()));
        assert_eq!(parse("CEK LPR-7K3Q9X"), s("LPR-7K3Q9X"));
        assert_eq!(parse("cek lpr 7k3q9x"), s("LPR-7K3Q9X"));
        assert_eq!(parse(" Status: LPR-7K3Q9X. "), s("LPR-7K3Q9X"));
        assert_eq!(parse("LPR-7K3Q9X"), s("LPR-7K3Q9X"));
        assert_eq!(parse("PUAS"), Some(Query::Answer(Answer::Puas, None)));
        assert_eq!(
            parse("belum LPR-7K3Q9X"),
            Some(Query::Answer(Answer::Belum, Some("LPR-7K3Q9X".into())))
        );
        assert_eq!(parse("CEK"), None);
        assert_eq!(parse("LPR-7K3Q9X jalan masih rusak"), None, "a follow-up, not a query");
        assert_eq!(parse("belum ada perbaikan jalan di desa kami"), None);
        assert_eq!(parse("jalan rusak"), None);
        assert_eq!(parse(&"CEK ".repeat(100)), None);
    }

    #[test]
    fn budget_per_sender_and_window() {
        let l = QueryLimiter::new(3, 4);
        let t = Instant::now();
        let a = [1u8; 32];
        assert!((0..3).all(|_| l.allow_at(a, t)));
        assert!(!l.allow_at(a, t), "fourth in the hour");
        assert!(l.allow_at([2u8; 32], t), "others unaffected");
        assert!(l.allow_at(a, t + WINDOW), "next hour");
        // Memory stays bounded whatever the number of senders.
        for i in 0..1000u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            l.allow_at(k, t);
        }
        let g = l.gens.lock();
        assert!(g.0.len() + g.1.len() <= 4);
    }
}
