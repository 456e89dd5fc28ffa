//! `cargo fuzz run routing`: see `checks/src/routing.rs` for the input format and
//! what is asserted beyond "no panic".
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pintu_fuzz_checks::routing::check(data));
