//! `cargo fuzz run email_text`: see `checks/src/email_text.rs` for the input format and
//! what is asserted beyond "no panic".
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pintu_fuzz_checks::email_text::check(data));
