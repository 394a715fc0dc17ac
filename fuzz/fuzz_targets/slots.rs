#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pod_fuzz::slots(data));
