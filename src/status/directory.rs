//! Agency display names for citizens ("Dinas PUPR Kota Bandung"), generated
//! from the BPS region names in `config/wilayah/` and the unit names in
//! `config/status/units.csv` — never the code, which means nothing to a
//! citizen. `<regency>.<unit>` is the unit followed by the regency's name,
//! `<province>.<unit>` the unit followed by "Provinsi" and the province's
//! name, a national code its unit name alone.

use std::collections::HashMap;
use std::path::Path;

use super::{FileError, StatusError};

/// Code → display name.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    units: HashMap<String, String>,
    regencies: HashMap<String, String>,
    provinces: HashMap<String, String>,
}

/// Words kept in capitals when BPS names are title-cased.
const KEEP_UPPER: &[&str] = &["DKI", "DI", "II", "III", "IV"];

/// "KOTA BANDUNG" → "Kota Bandung", "DKI JAKARTA" → "DKI Jakarta".
pub fn title_case(name: &str) -> String {
    name.split_whitespace()
        .map(|w| {
            if KEEP_UPPER.contains(&w) {
                return w.to_string();
            }
            // Hyphenated and dotted parts each get a capital (TOLI-TOLI, KEP.).
            let mut out = String::with_capacity(w.len());
            let mut start = true;
            for ch in w.chars() {
                if start {
                    out.extend(ch.to_uppercase());
                } else {
                    out.extend(ch.to_lowercase());
                }
                start = matches!(ch, '-' | '.' | '(' | '/');
            }
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn read_csv(path: &Path, cols: usize) -> Result<Vec<Vec<String>>, StatusError> {
    let file = |e: csv::Error| StatusError::File {
        path: path.display().to_string(),
        source: FileError::Csv(e),
    };
    let mut rdr = csv::Reader::from_path(path).map_err(file)?;
    let mut rows = Vec::new();
    for r in rdr.records() {
        let r = r.map_err(file)?;
        if r.len() < cols {
            return Err(StatusError::Setup(format!(
                "{}: line {} has {} columns, wants {cols}",
                path.display(),
                r.position().map(|p| p.line()).unwrap_or(0),
                r.len()
            )));
        }
        rows.push(r.iter().map(str::to_string).collect());
    }
    Ok(rows)
}

impl Directory {
    /// Build from the unit names and the BPS tables (`provinces.csv`,
    /// `regencies.csv` in `wilayah_dir`).
    pub fn load(units: &Path, wilayah_dir: &Path) -> Result<Directory, StatusError> {
        let mut d = Directory::default();
        for r in read_csv(units, 2)? {
            d.units.insert(r[0].clone(), r[1].clone());
        }
        for r in read_csv(&wilayah_dir.join("provinces.csv"), 2)? {
            d.provinces.insert(r[0].clone(), title_case(&r[1]));
        }
        for r in read_csv(&wilayah_dir.join("regencies.csv"), 3)? {
            d.regencies.insert(r[0].clone(), title_case(&r[2]));
        }
        Ok(d)
    }

    /// The name of `code`; an unknown code is shown as "instansi terkait"
    /// rather than as a code the citizen cannot read.
    pub fn name(&self, code: &str) -> String {
        let (place, unit) = match code.split_once('.') {
            Some((p, u)) => (Some(p), u),
            None => (None, code),
        };
        let Some(unit_name) = self.units.get(unit) else {
            return "instansi terkait".to_string();
        };
        match place {
            None => unit_name.clone(),
            Some(p) => {
                if let Some(r) = self.regencies.get(p) {
                    format!("{unit_name} {r}")
                } else if let Some(pv) = self.provinces.get(p) {
                    format!("{unit_name} Provinsi {pv}")
                } else {
                    unit_name.clone()
                }
            }
        }
    }

    /// Every generated name (`pintu status directory`): units × places.
    pub fn all(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self.units.keys().map(|u| (u.clone(), self.name(u))).collect();
        for place in self.regencies.keys().chain(self.provinces.keys()) {
            for u in self.units.keys() {
                let code = format!("{place}.{u}");
                let name = self.name(&code);
                out.push((code, name));
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_bps_tables_and_units() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let d = Directory::load(&repo.join("config/status/units.csv"), &repo.join("config/wilayah")).unwrap();
        assert_eq!(d.name("3273.dpupr"), "Dinas PUPR Kota Bandung");
        assert_eq!(d.name("32.dinkes"), "Dinas Kesehatan Provinsi Jawa Barat");
        assert_eq!(d.name("31.dinkes"), "Dinas Kesehatan Provinsi DKI Jakarta");
        assert_eq!(d.name("kemenkes"), "Kementerian Kesehatan");
        assert_eq!(d.name("3171.polres"), "Polres Kota Jakarta Selatan");
        assert_eq!(d.name("nonsense"), "instansi terkait");
        assert_eq!(title_case("KABUPATEN TOLI-TOLI"), "Kabupaten Toli-Toli");
        assert!(d.all().len() > 500 * 40, "regencies × units");
    }
}
