//! `cargo fuzz run sms`: see `checks/src/sms.rs` for the input format and
//! what is asserted beyond "no panic".
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pintu_fuzz_checks::sms::check(data));
