#![no_main]

use supportgate_fuzz::smtp_session::Harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| Harness::shared().check(data));
