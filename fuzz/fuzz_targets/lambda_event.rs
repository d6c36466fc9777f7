//! cargo-fuzz target: see `sagefront_function::fuzzing::lambda_event`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sagefront_function::fuzzing::lambda_event(data));
