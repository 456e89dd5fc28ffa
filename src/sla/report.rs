//! Policy reports from the aggregate: complaints per region, category,
//! agency, channel and day; share overdue; median time to first follow-up.
//! Counts only — and every row built from fewer than `k` complaints is
//! suppressed (counted in `suppressed_rows`, never shown), so no row points
//! at one citizen.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;
use serde::Serialize;

use super::aggregate::{parse_key, Cell};
use super::index::{IndexError, SlaIndex};

/// A column to group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dim {
    Day,
    Province,
    Region,
    Category,
    Agency,
    Channel,
}

impl Dim {
    pub fn name(self) -> &'static str {
        match self {
            Dim::Day => "day",
            Dim::Province => "province",
            Dim::Region => "region",
            Dim::Category => "category",
            Dim::Agency => "agency",
            Dim::Channel => "channel",
        }
    }

    /// `region,category,agency,channel` → dims; the unknown name on error.
    pub fn parse_list(s: &str) -> Result<Vec<Dim>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let d = match part {
                "day" => Dim::Day,
                "province" => Dim::Province,
                "region" => Dim::Region,
                "category" => Dim::Category,
                "agency" => Dim::Agency,
                "channel" => Dim::Channel,
                other => {
                    return Err(format!(
                        "unknown column `{other}` (day, province, region, category, agency, channel)"
                    ))
                }
            };
            if !out.contains(&d) {
                out.push(d);
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone)]
pub struct Query {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Vec<Dim>,
    /// Smallest number of complaints a row may show.
    pub k: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub keys: Vec<String>,
    pub received: u64,
    pub dispositioned: u64,
    pub followed_up: u64,
    pub overdue: u64,
    /// overdue / dispositioned.
    pub share_overdue: Option<f64>,
    /// Upper bound of the median's histogram bucket (hours).
    pub median_follow_up_hours: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: Vec<Dim>,
    pub k: u64,
    pub rows: Vec<Row>,
    pub suppressed_rows: u64,
}

pub fn run(index: &SlaIndex, q: &Query) -> Result<Report, IndexError> {
    let mut groups: BTreeMap<Vec<String>, Cell> = BTreeMap::new();
    for item in index.cells() {
        let (k, cell) = item?;
        let Some((day, [region, category, agency, channel])) = parse_key(&k) else {
            continue;
        };
        if day < q.from || day > q.to {
            continue;
        }
        let keys =
            q.by.iter()
                .map(|d| match d {
                    Dim::Day => day.to_string(),
                    Dim::Province => region.get(..2).filter(|_| region != "-").unwrap_or("-").to_string(),
                    Dim::Region => region.clone(),
                    Dim::Category => category.clone(),
                    Dim::Agency => agency.clone(),
                    Dim::Channel => channel.clone(),
                })
                .collect();
        groups.entry(keys).or_default().add(&cell);
    }
    let mut rows = Vec::new();
    let mut suppressed_rows = 0;
    for (keys, c) in groups {
        if c.received.max(c.dispositioned) < q.k {
            suppressed_rows += 1;
            continue;
        }
        rows.push(Row {
            keys,
            received: c.received,
            dispositioned: c.dispositioned,
            followed_up: c.followed_up,
            overdue: c.overdue,
            share_overdue: (c.dispositioned > 0).then(|| c.overdue as f64 / c.dispositioned as f64),
            median_follow_up_hours: c.median_follow_up_hours(),
        });
    }
    Ok(Report {
        from: q.from,
        to: q.to,
        by: q.by.clone(),
        k: q.k,
        rows,
        suppressed_rows,
    })
}

/// CSV with a header; labels are plain (validated on the way in), so no quoting.
pub fn to_csv(r: &Report) -> String {
    let mut out = String::new();
    for d in &r.by {
        out.push_str(d.name());
        out.push(',');
    }
    out.push_str("received,dispositioned,followed_up,overdue,share_overdue,median_follow_up_hours\n");
    for row in &r.rows {
        for k in &row.keys {
            out.push_str(k);
            out.push(',');
        }
        let share = row.share_overdue.map(|s| format!("{s:.3}")).unwrap_or_default();
        let median = row.median_follow_up_hours.map(|m| m.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{share},{median}",
            row.received, row.dispositioned, row.followed_up, row.overdue
        );
    }
    out
}

/// `pintu report`: ask the gateway (`/ops/api/report`) and return its answer.
pub async fn fetch_cli(
    cfg: &crate::config::Config,
    url: Option<&str>,
    from: &str,
    to: &str,
    by: &str,
    json: bool,
) -> Result<String, String> {
    let base = crate::http::gateway_base(cfg.http.addr, url);
    let token = cfg.http.ops_token.as_ref().map(pintu_channels::Secret::expose);
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let format = if json { "json" } else { "csv" };
    let req = http
        .get(format!("{}/ops/api/report", base.trim_end_matches('/')))
        .query(&[("from", from), ("to", to), ("by", by), ("format", format)]);
    let resp = crate::http::with_ops_token(req, token)
        .send()
        .await
        .map_err(|e| super::status::chain(&e))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", text.trim()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::sla::calendar::Calendar;
    use crate::sla::clock::ManualClock;
    use crate::sla::deadlines::Planner;
    use crate::sla::event::{StageEvent, StageKind};
    use crate::sla::workdays::{OfficeHours, WorkingTime};
    use crate::sla::{Engine, SlaConfig};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn counts_shares_medians_and_suppression() {
        let nat = include_str!("../../config/calendar/national.toml");
        let wt = WorkingTime::new(Calendar::from_strs(nat, None).unwrap(), OfficeHours::default());
        let clock = Arc::new(ManualClock::new(t("2025-11-10T09:00:00+07:00")));
        let e = Engine::new(
            Planner::new(SlaConfig::default(), wt),
            SlaIndex::temporary().unwrap(),
            clock.clone(),
        );
        let ev = |id: String, agency: &str, kind, at: &str, cat: &str| StageEvent {
            complaint: id,
            agency: agency.into(),
            kind,
            at: t(at),
            report_type: Some("pengaduan".into()),
            category: Some(cat.into()),
            region: Some(agency[..4].to_string()),
            channel: Some("sms".into()),
        };
        // 6 kesehatan complaints for 3171.dinkes on Mon 10 Nov: 4 followed up
        // after 3 hours, 2 never (they go overdue); 2 pungli ones for 3273.polres.
        for i in 0..6 {
            e.on_stage(&ev(
                format!("K{i}"),
                "3171.dinkes",
                StageKind::Dispositioned,
                "2025-11-10T09:00:00+07:00",
                "kesehatan",
            ))
            .unwrap();
        }
        for i in 0..4 {
            e.on_stage(&ev(
                format!("K{i}"),
                "3171.dinkes",
                StageKind::FollowedUp,
                "2025-11-10T12:00:00+07:00",
                "kesehatan",
            ))
            .unwrap();
        }
        for i in 0..2 {
            e.on_stage(&ev(
                format!("P{i}"),
                "3273.polres",
                StageKind::Dispositioned,
                "2025-11-10T09:00:00+07:00",
                "pungli",
            ))
            .unwrap();
        }
        clock.set(t("2025-11-17T16:00:00+07:00"));
        e.fire_all_due().unwrap();
        let q = Query {
            from: "2025-11-10".parse().unwrap(),
            to: "2025-11-10".parse().unwrap(),
            by: Dim::parse_list("region,category,agency,channel").unwrap(),
            k: 5,
        };
        let r = run(&e.index, &q).unwrap();
        assert_eq!(r.suppressed_rows, 1, "the 2 pungli complaints are below k = 5");
        assert_eq!(
            to_csv(&r),
            "region,category,agency,channel,received,dispositioned,followed_up,overdue,share_overdue,median_follow_up_hours\n\
             3171,kesehatan,3171.dinkes,sms,6,6,4,2,0.333,4\n"
        );
        let none = run(
            &e.index,
            &Query {
                from: "2025-11-11".parse().unwrap(),
                ..q.clone()
            },
        )
        .unwrap();
        assert!(none.rows.is_empty() && none.suppressed_rows == 0);
        let by_prov = run(
            &e.index,
            &Query {
                by: vec![Dim::Province],
                k: 1,
                ..q
            },
        )
        .unwrap();
        let rows: Vec<(String, u64)> = by_prov.rows.iter().map(|r| (r.keys[0].clone(), r.received)).collect();
        assert_eq!(
            rows,
            [("32".to_string(), 2), ("31".to_string(), 6)]
                .iter()
                .rev()
                .cloned()
                .collect::<Vec<_>>()
        );
        assert!(Dim::parse_list("region,colour").unwrap_err().contains("colour"));
    }
}
