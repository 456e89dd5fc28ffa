//! `cargo fuzz run decode`: see `checks/src/decode.rs` for the input format and
//! what is asserted beyond "no panic".
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pintu_fuzz_checks::decode::check(data));
