//! Parsing the BPS region tables (`provinces.csv`, `regencies.csv`,
//! `districts.csv`) into [`Wilayah`], checking codes and parents.

use std::path::Path;

use serde::Deserialize;

use super::*;
use crate::routing::RoutingError;

#[derive(Deserialize)]
struct CodeName {
    code: String,
    name: String,
}

#[derive(Deserialize)]
struct CodeParentName {
    code: String,
    parent: String,
    name: String,
}

fn csv_rows<T: for<'de> Deserialize<'de>>(path: &Path, content: &str) -> Result<Vec<(usize, T)>, RoutingError> {
    let mut rdr = csv::Reader::from_reader(content.as_bytes());
    let mut out = Vec::new();
    for (i, row) in rdr.deserialize::<T>().enumerate() {
        // Line numbers count the header, like an editor does.
        let line = i + 2;
        let row = row.map_err(|e| RoutingError::Table {
            file: path.to_path_buf(),
            line,
            msg: format!("bad CSV row: {e}"),
        })?;
        out.push((line, row));
    }
    Ok(out)
}

/// The three region CSVs, as read from disk.
pub struct WilayahFiles<'a> {
    pub dir: &'a Path,
    pub provinces: &'a str,
    pub regencies: &'a str,
    pub districts: &'a str,
}

pub fn parse_wilayah(f: &WilayahFiles<'_>) -> Result<Wilayah, RoutingError> {
    let dir = f.dir;
    let mut w = Wilayah::default();
    let prov_path = dir.join(PROVINCES);
    let mut prov_ix: HashMap<String, usize> = HashMap::new();
    for (line, r) in csv_rows::<CodeName>(&prov_path, f.provinces)? {
        let src = Src {
            file: prov_path.clone(),
            line,
        };
        if r.code.len() != 2 || !r.code.chars().all(|c| c.is_ascii_digit()) {
            return Err(src.err(format!("province code `{}` is not 2 digits", r.code)));
        }
        if prov_ix.insert(r.code.clone(), w.provinces.len()).is_some() {
            return Err(src.err(format!("province code {} twice", r.code)));
        }
        w.provinces.push(Province {
            code: r.code,
            name: r.name.trim().to_uppercase(),
        });
    }
    let reg_path = dir.join(REGENCIES);
    let mut reg_ix: HashMap<String, usize> = HashMap::new();
    for (line, r) in csv_rows::<CodeParentName>(&reg_path, f.regencies)? {
        let src = Src {
            file: reg_path.clone(),
            line,
        };
        if r.code.len() != 4 || !r.code.starts_with(&r.parent) {
            return Err(src.err(format!(
                "regency code `{}` must be 4 digits starting with its province `{}`",
                r.code, r.parent
            )));
        }
        let province = *prov_ix
            .get(&r.parent)
            .ok_or_else(|| src.err(format!("unknown province {}", r.parent)))?;
        let name = r.name.trim().to_uppercase();
        let (is_city, bare) = if let Some(b) = name.strip_prefix("KOTA ") {
            (true, b.to_string())
        } else if let Some(b) = name.strip_prefix("KABUPATEN ") {
            (false, b.to_string())
        } else {
            return Err(src.err(format!("regency name `{name}` must start with KABUPATEN or KOTA")));
        };
        if reg_ix.insert(r.code.clone(), w.regencies.len()).is_some() {
            return Err(src.err(format!("regency code {} twice", r.code)));
        }
        w.regencies.push(Regency {
            code: r.code,
            province,
            name,
            is_city,
            bare,
        });
    }
    let dis_path = dir.join(DISTRICTS);
    for (line, r) in csv_rows::<CodeParentName>(&dis_path, f.districts)? {
        let regency = *reg_ix.get(&r.parent).ok_or_else(|| RoutingError::Table {
            file: dis_path.clone(),
            line,
            msg: format!("unknown regency {}", r.parent),
        })?;
        w.districts.push(District {
            regency,
            name: r.name.trim().to_uppercase(),
        });
    }
    Ok(w)
}
