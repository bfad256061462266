#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| supportgate_fuzz::milter_codec::check(data));
