//! Replays the fuzzing corpus (`fuzz/corpus/<target>/`) and every saved finding
//! (`fuzz/regressions/<target>/`) through the same entry points cargo-fuzz drives, so `cargo test`
//! proves past findings stay fixed without nightly or cargo-fuzz.

use std::path::PathBuf;

use sagefront_function::fuzzing;

fn replay(target: &str, entry: fn(&[u8])) {
    let fuzz_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir.join(dir).join(target)) else {
            continue;
        };
        for file in entries {
            let path = file.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            // A panic fails the test and names the input through the message below.
            eprintln!("replaying {}", path.display());
            entry(&data);
            replayed += 1;
        }
    }
    assert!(
        replayed > 0,
        "no corpus for {target} under {}",
        fuzz_dir.display()
    );
}

#[test]
fn request_body_corpus_replays_without_panicking() {
    replay("request_body", fuzzing::request_body);
}

#[test]
fn model_response_corpus_replays_without_panicking() {
    replay("model_response", fuzzing::model_response);
}

#[test]
fn image_corpus_replays_without_panicking() {
    replay("image", fuzzing::image);
}

#[test]
fn lambda_event_corpus_replays_without_panicking() {
    replay("lambda_event", fuzzing::lambda_event);
}
