//! The deadline table of `pintu status`: asks the gateway's `/ops/api/sla`
//! and renders open / overdue / paused / oldest overdue per agency.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;

use super::summary::{AgencyRow, Summary};
use crate::http::with_ops_token;

#[derive(Debug, Deserialize)]
struct Answer {
    enabled: bool,
    #[serde(default)]
    summary: Option<SummaryDoc>,
}

#[derive(Debug, Deserialize)]
struct SummaryDoc {
    open: u64,
    overdue: u64,
    agencies: Vec<RowDoc>,
}

#[derive(Debug, Deserialize)]
struct RowDoc {
    agency: String,
    open: u64,
    overdue: u64,
    paused: u64,
    oldest_overdue_secs: Option<i64>,
}

/// The table, or a line saying why there is none (never an error: the
/// rest of `pintu status` is still worth printing).
pub async fn table(base: &str, token: Option<&str>) -> String {
    match fetch(base, token).await {
        Ok(Some(s)) => render(&s),
        Ok(None) => "Deadlines: clock off (sla.enabled = false)\n".into(),
        Err(e) => format!("Deadlines: not available ({e})\n"),
    }
}

/// The clock's figures from a gateway: `None` when its clock is off.
pub async fn fetch(base: &str, token: Option<&str>) -> Result<Option<Summary>, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let req = http.get(format!("{}/ops/api/sla", base.trim_end_matches('/')));
    let resp = with_ops_token(req, token).send().await.map_err(|e| chain(&e))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let a: Answer = resp.json().await.map_err(|e| e.to_string())?;
    Ok(match (a.enabled, a.summary) {
        (true, Some(s)) => Some(Summary {
            at: None,
            open: s.open,
            overdue: s.overdue,
            agencies: s
                .agencies
                .into_iter()
                .map(|r| AgencyRow {
                    agency: r.agency,
                    open: r.open,
                    overdue: r.overdue,
                    paused: r.paused,
                    oldest_overdue_secs: r.oldest_overdue_secs,
                })
                .collect(),
        }),
        _ => None,
    })
}

/// `93 s`, `4 min`, `2.5 h`, `3.0 d`.
fn human_age(secs: i64) -> String {
    let s = secs as f64;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 3.0 * 86_400.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

/// An error with its causes (`reqwest` puts "connection refused" in a source).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

/// Most overdue first.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Deadlines: {} open, {} overdue", s.open, s.overdue);
    let mut rows: Vec<&AgencyRow> = s.agencies.iter().collect();
    rows.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(b.open.cmp(&a.open))
            .then(a.agency.cmp(&b.agency))
    });
    let w = rows.iter().map(|r| r.agency.len()).max().unwrap_or(6).max(6);
    let _ = writeln!(
        out,
        "{:<w$}  {:>7}  {:>7}  {:>7}  oldest overdue",
        "agency", "open", "overdue", "paused"
    );
    for r in rows {
        let oldest = r.oldest_overdue_secs.map(human_age).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<w$}  {:>7}  {:>7}  {:>7}  {oldest}",
            r.agency, r.open, r.overdue, r.paused
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_overdue_first() {
        let s = Summary {
            at: None,
            open: 5,
            overdue: 2,
            agencies: vec![
                AgencyRow {
                    agency: "kemenkes".into(),
                    open: 3,
                    overdue: 0,
                    paused: 1,
                    oldest_overdue_secs: None,
                },
                AgencyRow {
                    agency: "3171.dinkes".into(),
                    open: 2,
                    overdue: 2,
                    paused: 0,
                    oldest_overdue_secs: Some(7200 * 3),
                },
            ],
        };
        let text = render(&s);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Deadlines: 5 open, 2 overdue");
        assert!(
            lines[2].starts_with("3171.dinkes") && lines[2].ends_with("6.0 h"),
            "{text}"
        );
        assert!(lines[3].starts_with("kemenkes") && lines[3].ends_with('-'), "{text}");
        let rows = s.gauge_rows(&["kemenkes".to_string()]);
        assert_eq!(rows, [("kemenkes".to_string(), 3, 0), ("prov-31".to_string(), 2, 2)]);
    }
}
