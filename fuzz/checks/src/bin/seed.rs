//! Write the seed inputs (see `pintu_fuzz_checks::seeds`) into
//! `corpus/<target>/seed-<name>`, next to whatever the corpus holds already.
//! Usage (from `fuzz/`): `cargo run -p pintu-fuzz-checks --bin seed [DIR]`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../corpus"));
    let mut n = 0;
    for (target, name, bytes) in pintu_fuzz_checks::seeds::all() {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(format!("seed-{name}")), bytes)?;
        n += 1;
    }
    println!("{n} seeds written under {}", dir.display());
    Ok(())
}
