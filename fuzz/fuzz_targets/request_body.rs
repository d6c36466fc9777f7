//! cargo-fuzz target: see `sagefront_function::fuzzing::request_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sagefront_function::fuzzing::request_body(data));
