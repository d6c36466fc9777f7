//! cargo-fuzz target: see `sagefront_function::fuzzing::model_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sagefront_function::fuzzing::model_response(data));
