//! Quoted history and signatures, removed from the complaint text.
//!
//! A citizen who answers our acknowledgement (or forwards an old thread) sends
//! the whole history again; an agency officer must read what is new, and the
//! dedupe fingerprint must not change because a client quoted differently.
//!
//! Rules, in the order they are tried on each line:
//! - a forward marker (`---------- Forwarded message ---------`, `Pesan terusan`,
//!   `Begin forwarded message:`) keeps everything after it: a forwarded
//!   message is the complaint's content, not history;
//! - `On … wrote:` / `Pada … menulis:` (possibly wrapped over three lines)
//!   followed by `>` lines drops that quoted block and keeps what the citizen
//!   wrote below it (bottom-posting); without `>` lines it cuts to the end;
//! - `-----Original Message-----`, `Pesan Asli`, and an Outlook header block
//!   (`From:`/`Dari:` followed by `Sent:`/`Date:`/`Dikirim:`/`Tanggal:`) cut to the end;
//! - other `>` lines are dropped (interleaved quoting);
//! - the signature delimiter `-- ` and trailing "Sent from my …" /
//!   "Dikirim dari …" lines cut to the end — except a confidentiality
//!   disclaimer below the signature (`DISCLAIMER`, `confidential`, `rahasia`,
//!   "intended only for the addressee" …), which is the sender's statement
//!   about the content, not decoration: it stays, up to where quoted history
//!   begins. One that a mail server appended below everything, quoted history
//!   included, stays too (the last unquoted paragraphs, if they read like one).
//!
//! When stripping would leave nothing, the original text is kept: a reply that
//! only quotes is odd, but dropping what the citizen sent would be worse.
//!
//! Linear in the text: each line is looked at a bounded number of times. The
//! question "is everything after this `Sent from …` line blank, quoted or
//! another signature?" used to be answered by scanning to the end for every
//! such line (192 KB of them took 3.3 s); it is now one backward pass,
//! computed the first time it is asked.

use std::sync::OnceLock;

use regex::Regex;

/// What stripping found, for `reply_context` and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stripped {
    pub text: String,
    pub removed_quote: bool,
    pub removed_signature: bool,
    pub forwarded: bool,
}

struct Patterns {
    reply_header: Regex,
    original: Regex,
    outlook_from: Regex,
    outlook_meta: Regex,
    forward: Regex,
    mobile_sig: Regex,
    disclaimer: Regex,
}

fn patterns() -> Option<&'static Patterns> {
    static P: OnceLock<Option<Patterns>> = OnceLock::new();
    P.get_or_init(|| {
        Some(Patterns {
            reply_header: Regex::new(
                r"(?is)^\s*(on\s.{1,400}\s(wrote|writes)|pada\s.{1,400}\s(menulis|wrote)|le\s.{1,400}\sa\s[ée]crit|am\s.{1,400}\sschrieb)\s*:\s*$",
            )
            .ok()?,
            original: Regex::new(r"(?i)^\s*-{2,}\s*(original message|pesan asli|pesan awal)\s*-{2,}\s*$").ok()?,
            outlook_from: Regex::new(r"(?i)^\s*\*?(from|dari)\s*:\*?\s+\S").ok()?,
            outlook_meta: Regex::new(r"(?i)^\s*\*?(sent|date|dikirim|tanggal|to|kepada|subject|subjek|perihal)\s*:").ok()?,
            forward: Regex::new(
                r"(?i)^\s*(-{2,}\s*(forwarded message|pesan terusan|pesan yang diteruskan)\s*-{2,}|begin forwarded message\s*:|awal pesan yang diteruskan\s*:)\s*$",
            )
            .ok()?,
            mobile_sig: Regex::new(
                r"(?i)^\s*(sent from (my )?\S.{0,60}|dikirim dari \S.{0,60}|get outlook for \S.{0,40}|dapatkan outlook untuk \S.{0,40}|sent via \S.{0,40})\s*$",
            )
            .ok()?,
            disclaimer: Regex::new(
                r"(?i)(disclaimer|confidential|privileged|rahasia|kerahasiaan|intended (solely |only )?for the (use of the )?(individual|addressee|recipient|person|named)|ditujukan (hanya )?(untuk|kepada)|hanya ditujukan|if you (are not the intended|have received this)|jika anda (bukan|menerima))",
            )
            .ok()?,
        })
    })
    .as_ref()
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// How many lines (1–3) starting at `i` form a reply header, if any. Gmail
/// wraps long `On …, Name <address> wrote:` lines.
fn reply_header_len(p: &Patterns, lines: &[&str], i: usize) -> Option<usize> {
    let mut joined = String::new();
    for n in 0..3 {
        let line = lines.get(i + n)?;
        if n > 0 && (line.trim().is_empty() || is_quoted(line)) {
            return None;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line.trim());
        if joined.len() > 500 {
            return None;
        }
        if p.reply_header.is_match(&joined) {
            return Some(n + 1);
        }
    }
    None
}

fn is_outlook_block(p: &Patterns, lines: &[&str], i: usize) -> bool {
    let Some(line) = lines.get(i) else { return false };
    if !p.outlook_from.is_match(line) {
        return false;
    }
    lines
        .iter()
        .skip(i + 1)
        .take(4)
        .filter(|l| p.outlook_meta.is_match(l))
        .count()
        >= 1
}

/// Remove quoted history and signatures; see the module docs.
pub fn strip_quotes(text: &str) -> Stripped {
    strip_quotes_counted(text).0
}

/// Lines starting at `i` that begin quoted history (a reply header, an
/// original-message marker or an Outlook block), as opposed to quoting alone.
fn history_starts(p: &Patterns, lines: &[&str], i: usize) -> bool {
    reply_header_len(p, lines, i).is_some() || p.original.is_match(lines[i]) || is_outlook_block(p, lines, i)
}

/// [`strip_quotes`] and the number of line inspections it made (a measure
/// of work that tests can bound without timing anything).
pub fn strip_quotes_counted(text: &str) -> (Stripped, usize) {
    let Some(p) = patterns() else {
        let s = Stripped {
            text: text.to_string(),
            ..Stripped::default()
        };
        return (s, 0);
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    let mut out = Stripped::default();
    let mut tail: Option<Vec<bool>> = None;
    let mut work = 0usize;
    let mut i = 0;
    while i < lines.len() {
        work += 1;
        let line = lines[i];
        if p.forward.is_match(line) {
            // Everything from here is the forwarded message: keep it verbatim.
            out.forwarded = true;
            kept.extend_from_slice(&lines[i..]);
            break;
        }
        if let Some(n) = reply_header_len(p, &lines, i) {
            out.removed_quote = true;
            let mut j = i + n;
            while j < lines.len() && lines[j].trim().is_empty() {
                j += 1;
            }
            if j < lines.len() && is_quoted(lines[j]) {
                while j < lines.len() && (is_quoted(lines[j]) || lines[j].trim().is_empty()) {
                    j += 1;
                }
                work += j - i;
                i = j;
                continue;
            }
            work += keep_trailing_disclaimer(p, &lines, i + 1, &mut kept);
            break;
        }
        if p.original.is_match(line)
            || is_outlook_block(p, &lines, i)
            || is_underscore_rule_before_outlook(p, &lines, i)
        {
            out.removed_quote = true;
            work += keep_trailing_disclaimer(p, &lines, i + 1, &mut kept);
            break;
        }
        if is_quoted(line) {
            out.removed_quote = true;
            i += 1;
            continue;
        }
        if line == "-- " || line.trim_end() == "--" || line.trim_end() == "—" {
            out.removed_signature = true;
            let before = kept.len();
            work += keep_disclaimer(p, &lines, i + 1, &mut kept);
            if kept.len() == before {
                work += keep_trailing_disclaimer(p, &lines, i + 1, &mut kept);
            }
            break;
        }
        if p.mobile_sig.is_match(line) {
            let t = tail.get_or_insert_with(|| {
                work += lines.len();
                tail_table(p, &lines)
            });
            if t[i + 1] {
                out.removed_signature = true;
                work += keep_trailing_disclaimer(p, &lines, i + 1, &mut kept);
                break;
            }
        }
        kept.push(line);
        i += 1;
    }
    let joined = kept.join("\n");
    if joined.trim().is_empty() && !text.trim().is_empty() {
        // Nothing of the citizen's own left: keep what they sent.
        let s = Stripped {
            text: text.to_string(),
            ..Stripped::default()
        };
        return (s, work);
    }
    out.text = joined;
    (out, work)
}

/// Outlook puts a `____` rule above its `From:` block.
fn is_underscore_rule_before_outlook(p: &Patterns, lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    line.len() >= 10 && line.chars().all(|c| c == '_') && is_outlook_block(p, lines, i + 1)
}

/// `t[i]`: the lines from `i` on are only blank lines, quoted lines and
/// further signature lines, possibly followed by quoted history — so a
/// `Sent from …` line before `i` is a signature, not a sentence. One
/// backward pass instead of a scan to the end per signature line.
fn tail_table(p: &Patterns, lines: &[&str]) -> Vec<bool> {
    let mut t = vec![true; lines.len() + 1];
    for i in (0..lines.len()).rev() {
        let l = lines[i];
        t[i] = if l.trim().is_empty() || is_quoted(l) || p.mobile_sig.is_match(l) {
            t[i + 1]
        } else {
            history_starts(p, lines, i)
        };
    }
    t
}

/// Below a signature delimiter at `from - 1`: append a confidentiality
/// disclaimer, if there is one before quoted history begins, from the start
/// of its paragraph to where history begins. Returns the lines looked at.
fn keep_disclaimer<'t>(p: &Patterns, lines: &[&'t str], from: usize, kept: &mut Vec<&'t str>) -> usize {
    let mut end = lines.len();
    let mut found = None;
    for (j, l) in lines.iter().enumerate().skip(from) {
        if is_quoted(l) || history_starts(p, lines, j) || p.forward.is_match(l) {
            end = j;
            break;
        }
        if found.is_none() && p.disclaimer.is_match(l) {
            found = Some(j);
        }
    }
    let Some(d) = found else {
        return end - from;
    };
    // The paragraph the disclaimer starts in, unless that paragraph is the
    // signature itself (no blank line after the delimiter).
    let mut start = d;
    while start > from && !lines[start - 1].trim().is_empty() {
        start -= 1;
    }
    if start == from {
        start = d;
    }
    let mut block: Vec<&str> = lines[start..end].to_vec();
    while block.last().is_some_and(|l| l.trim().is_empty()) {
        block.pop();
    }
    append_block(kept, block);
    end - from
}

fn append_block<'t>(kept: &mut Vec<&'t str>, block: Vec<&'t str>) {
    if !block.is_empty() {
        if kept.last().is_some_and(|l| !l.trim().is_empty()) {
            kept.push("");
        }
        kept.extend(block);
    }
}

/// A disclaimer a mail server appended below everything, after what was
/// cut from `from` on: the last paragraphs of the text, as long as each is
/// unquoted and reads like a disclaimer, and something precedes them after
/// `from` (a paragraph starting right at the cut belongs to what was cut).
/// Returns the lines looked at; only the tail is read.
fn keep_trailing_disclaimer<'t>(p: &Patterns, lines: &[&'t str], from: usize, kept: &mut Vec<&'t str>) -> usize {
    let mut end = lines.len();
    while end > from && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let mut start = end;
    let mut work = lines.len() - end;
    loop {
        let mut s = start;
        while s > from && !lines[s - 1].trim().is_empty() {
            s -= 1;
        }
        work += start - s;
        let para = &lines[s..start];
        let disclaimer = s > from
            && !para.is_empty()
            && !para.iter().any(|l| is_quoted(l))
            && para.iter().any(|l| p.disclaimer.is_match(l));
        if !disclaimer {
            break;
        }
        start = s;
        // The blank lines between this paragraph and the one above it.
        while start > from && lines[start - 1].trim().is_empty() {
            start -= 1;
            work += 1;
        }
    }
    let block: Vec<&str> = lines[start..end]
        .iter()
        .copied()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    append_block(kept, block);
    work
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_top_posting() {
        let s = strip_quotes(
            "Masih rusak.\n\nOn Mon, 3 Mar 2025 at 10:00, LAPOR! <noreply@lapor.go.id> wrote:\n> Terima kasih\n> Kode: LPR-7K3Q9X",
        );
        assert_eq!(s.text.trim(), "Masih rusak.");
        assert!(s.removed_quote);
    }

    #[test]
    fn indonesian_wrapped_header() {
        let s = strip_quotes("Tolong ditindaklanjuti.\n\nPada Sen, 3 Mar 2025 pukul 10.00 LAPOR! <\nnoreply@lapor.go.id> menulis:\n\n> isi lama\n");
        assert_eq!(s.text.trim(), "Tolong ditindaklanjuti.");
    }

    #[test]
    fn bottom_posting_keeps_the_answer() {
        let s = strip_quotes("On Mon, 3 Mar 2025, X <x@y.z> wrote:\n> pertanyaan\n>\n\nJawaban saya di bawah.\n");
        assert_eq!(s.text.trim(), "Jawaban saya di bawah.");
    }

    #[test]
    fn outlook_and_signatures() {
        let s = strip_quotes("Isi aduan.\n\n-----Original Message-----\nFrom: a\nSent: b\n");
        assert_eq!(s.text.trim(), "Isi aduan.");
        let s =
            strip_quotes("Isi aduan.\n________________________________\nDari: LAPOR!\nDikirim: Senin\nKepada: saya\n");
        assert_eq!(s.text.trim(), "Isi aduan.");
        let s = strip_quotes("Isi aduan.\n-- \nBudi\n0812345");
        assert_eq!(s.text.trim(), "Isi aduan.");
        assert!(s.removed_signature);
        let s = strip_quotes("Isi aduan.\n\nDikirim dari iPhone saya\n");
        assert_eq!(s.text.trim(), "Isi aduan.");
        // "Sent from" inside the text is content, not a signature.
        let s = strip_quotes("Sent from my office the letter was lost.\nIt was never answered.");
        assert_eq!(
            s.text,
            "Sent from my office the letter was lost.\nIt was never answered."
        );
    }

    #[test]
    fn forwards_are_kept() {
        let s = strip_quotes(
            "FYI\n\n---------- Forwarded message ---------\nFrom: Kepala Desa\n> not a quote here\nIsi surat",
        );
        assert!(s.forwarded);
        assert!(s.text.contains("Isi surat") && s.text.contains("> not a quote here"));
    }

    /// Many `Sent from …` lines before real text: each line is inspected a
    /// bounded number of times (the old look-ahead made 192 KB take 3.3 s,
    /// ~n²/2 inspections: 50 million for these 10,000 lines).
    #[test]
    fn many_signature_lines_stay_linear() {
        let n = 10_000;
        let text = "Sent from my phone\n".repeat(n) + "Isi aduan yang sebenarnya.";
        let (s, work) = strip_quotes_counted(&text);
        assert!(work <= 4 * n, "{work} inspections for {n} lines");
        assert!(s.text.ends_with("Isi aduan yang sebenarnya."));
        let text = "Isi aduan.\n".to_string() + &"Sent from my phone\n>\n".repeat(n);
        let (s, work) = strip_quotes_counted(&text);
        assert!(work <= 4 * 2 * n, "{work} inspections for {} lines", 2 * n);
        assert_eq!(s.text, "Isi aduan.");
        assert!(s.removed_signature);
    }

    #[test]
    fn disclaimers_stay_signatures_go() {
        let s = strip_quotes(
            "Jalan rusak di depan kantor.\n\n-- \nBudi Santoso\nPT Maju | 0812-3456-7890\n\n\
             DISCLAIMER: Email ini bersifat rahasia dan hanya ditujukan untuk penerima.\n\
             This e-mail is confidential.\n\n\
             On Mon, 3 Mar 2025, LAPOR! <pengaduan@lapor.go.id> wrote:\n> kutipan\n> CONFIDENTIAL lama",
        );
        assert_eq!(
            s.text,
            "Jalan rusak di depan kantor.\n\nDISCLAIMER: Email ini bersifat rahasia dan hanya ditujukan untuk penerima.\n\
             This e-mail is confidential."
        );
        assert!(s.removed_signature && !s.text.contains("0812") && !s.text.contains("lama"));
        // In the signature's own paragraph: from the disclaimer's line on.
        let s = strip_quotes("Aduan.\n-- \nBudi\nThis message is confidential and privileged.");
        assert_eq!(s.text, "Aduan.\n\nThis message is confidential and privileged.");
        // No disclaimer: the signature goes entirely.
        let s = strip_quotes("Aduan.\n-- \nBudi\n0812");
        assert_eq!(s.text, "Aduan.");
        // Appended by the server below the quoted history (Outlook, top-posted).
        let s = strip_quotes(
            "Masih rusak.\n\n-----Original Message-----\nFrom: LAPOR!\nSent: Senin\n\nKode LPR-7K3Q9X\n\n\
             PERHATIAN: Email ini bersifat rahasia.\n\nThis e-mail is confidential.\n",
        );
        assert_eq!(
            s.text,
            "Masih rusak.\n\nPERHATIAN: Email ini bersifat rahasia.\n\nThis e-mail is confidential."
        );
        // The quoted history's own last paragraph is not a disclaimer: nothing added.
        let s =
            strip_quotes("Masih rusak.\n\n-----Original Message-----\nFrom: LAPOR!\nSent: Senin\n\nKode LPR-7K3Q9X");
        assert_eq!(s.text.trim(), "Masih rusak.");
    }

    #[test]
    fn all_quoted_keeps_original() {
        let s = strip_quotes("> hanya kutipan\n> saja");
        assert_eq!(s.text, "> hanya kutipan\n> saja");
    }
}
