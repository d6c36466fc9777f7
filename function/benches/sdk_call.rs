//! The AWS SDK's own work per `InvokeEndpoint` call: everything but the network.
//!
//! The client is the one the function builds (`sagemaker::client`: retries, timeouts,
//! stalled-stream protection, SigV4), with an in-process HTTP client that answers at once with
//! 257 probabilities. What is left is the SDK's per-call pipeline: config layering, interceptors,
//! signing (with the SHA-256 of the body), serialisation and deserialisation. A second case
//! turns retries, timeouts and stalled-stream protection off, to show what those settings cost.
//!
//! ```sh
//! cargo bench -p sagefront-function --bench sdk_call
//! ```

use std::hint::black_box;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sagemakerruntime::config::{Credentials, Region, StalledStreamProtectionConfig};
use aws_smithy_http_client::test_util::infallible_client_fn;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sagefront_function::model::endpoint::{Endpoint, Invocation, Target};
use sagefront_function::model::sagemaker::{self, SageMakerEndpoint};

/// The fake model's answer: 257 probabilities in the built-in algorithm's format.
fn probabilities() -> String {
    let items: Vec<String> = (0..257)
        .map(|i| format!("{:?}", f64::from(i) / 33_024.0))
        .collect();
    format!("[{}]", items.join(", "))
}

fn sdk_call(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let answer = probabilities();
    let http = infallible_client_fn(move |_request| {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(answer.clone())
            .expect("response")
    });
    // Dummy credentials: nothing leaves the process.
    let sdk_config = rt.block_on(
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "AKIDEXAMPLE",
                "example",
                None,
                None,
                "bench",
            ))
            .http_client(http)
            .load(),
    );
    let production = sagemaker::client(&sdk_config, Duration::from_secs(10));
    let bare = aws_sdk_sagemakerruntime::Client::from_conf(
        production
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build(),
    );

    let image = Bytes::from(vec![0xA5; 10_000]);
    let mut group = c.benchmark_group("sdk_call");
    group.throughput(Throughput::Elements(1));
    for (name, client) in [
        ("production settings", production),
        ("no retries, timeouts or stalled-stream protection", bare),
    ] {
        let endpoint = SageMakerEndpoint::new(client, "bench-257");
        let target = Target::default();
        group.bench_function(format!("invoke_endpoint 10 KB, {name}"), |b| {
            b.iter(|| {
                let call = Invocation {
                    body: image.clone(),
                    content_type: "image/jpeg",
                    accept: Some("application/json"),
                    target: &target,
                    inference_id: "bench-request",
                    custom_attributes: None,
                    timeout: Duration::from_secs(10),
                };
                rt.block_on(endpoint.invoke(call))
                    .map(black_box)
                    .expect("the in-process answer")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, sdk_call);
criterion_main!(benches);
