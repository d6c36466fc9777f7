//! The AWS SDK for Rust (what the function uses) against a real socket: it must see this
//! server's answers as `InvokeEndpoint` output (custom attributes included) and its errors as
//! the modelled error variants, for the target headers as well.

use std::io::Cursor;
use std::sync::Arc;

use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use sagefront_model_server::classifier::{Classifier, ClassifyError};
use sagefront_model_server::invocation::Served;
use sagefront_model_server::preprocess::{self, ImageLimits};
use sagefront_model_server::server::{AppState, ServerOptions, app};

/// Decodes for real, then answers a uniform distribution.
struct Uniform;

impl Classifier for Uniform {
    fn classify(&self, image: &[u8]) -> Result<Vec<f32>, ClassifyError> {
        preprocess::decode(image, ImageLimits::default())?;
        Ok(vec![1.0 / 1000.0; 1000])
    }
}

/// Serves the app on a free loopback port; returns the client pointed at it and the state.
async fn start() -> (Client, Arc<AppState>) {
    start_with(ServerOptions::default()).await
}

async fn start_with(options: ServerOptions) -> (Client, Arc<AppState>) {
    let state = Arc::new(AppState::new(options));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = app(Arc::clone(&state));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .http_client(http)
        .retry_config(aws_sdk_sagemakerruntime::config::retry::RetryConfig::disabled())
        .build();
    (Client::from_conf(config), state)
}

fn jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(64, 48, image::Rgb([10, 200, 30]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

async fn invoke(
    client: &Client,
    endpoint: &str,
    body: Vec<u8>,
) -> Result<
    aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointOutput,
    InvokeEndpointError,
> {
    client
        .invoke_endpoint()
        .endpoint_name(endpoint)
        .content_type("application/x-image")
        .body(Blob::new(body))
        .send()
        .await
        .map_err(|e| e.into_service_error())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_reads_probabilities_and_variant() {
    let (client, state) = start().await;
    state.set_model(Arc::new(Uniform));
    let out = invoke(&client, "sagefront-local", jpeg()).await.unwrap();
    assert_eq!(out.content_type(), Some("application/json"));
    assert_eq!(out.invoked_production_variant(), Some("AllTraffic"));
    let p: Vec<f32> = serde_json::from_slice(out.body().unwrap().as_ref()).unwrap();
    assert_eq!(p.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_sees_unknown_endpoint_as_validation_error() {
    let (client, state) = start().await;
    state.set_model(Arc::new(Uniform));
    let err = invoke(&client, "missing", jpeg()).await.unwrap_err();
    let InvokeEndpointError::ValidationError(e) = err else {
        panic!("expected ValidationError, got {err:?}")
    };
    assert_eq!(
        e.message(),
        Some("Endpoint missing of account 000000000000 not found.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_sees_corrupt_image_as_model_error_with_original_status() {
    let (client, state) = start().await;
    state.set_model(Arc::new(Uniform));
    let err = invoke(&client, "sagefront-local", b"garbage".to_vec())
        .await
        .unwrap_err();
    let InvokeEndpointError::ModelError(e) = err else {
        panic!("expected ModelError, got {err:?}")
    };
    assert_eq!(e.original_status_code(), Some(400));
    assert!(
        e.message()
            .unwrap()
            .starts_with("Received client error (400)")
    );
    assert!(
        e.original_message()
            .unwrap()
            .contains("unsupported image format")
    );
    assert_eq!(
        e.log_stream_arn(),
        Some(
            "arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/sagefront-local"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_sees_loading_model_as_not_ready() {
    let (client, _state) = start().await;
    let err = invoke(&client, "sagefront-local", jpeg())
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvokeEndpointError::ModelNotReadyException(_)),
        "{err:?}"
    );
}

/// An endpoint with inference components `ic-a` and `ic-b`, its model loaded.
async fn start_with_components() -> Client {
    let (client, state) = start_with(ServerOptions {
        served: Served {
            models: vec!["ic-a".to_owned(), "ic-b".to_owned()],
            ..Served::default()
        },
        ..ServerOptions::default()
    })
    .await;
    state.set_model(Arc::new(Uniform));
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_invokes_a_named_component_and_reads_its_custom_attributes() {
    let client = start_with_components().await;
    let out = client
        .invoke_endpoint()
        .endpoint_name("sagefront-local")
        .inference_component_name("ic-b")
        .target_variant("AllTraffic")
        .inference_id("sdk-0001")
        .custom_attributes("trace=sdk")
        .content_type("image/jpeg")
        .body(Blob::new(jpeg()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.custom_attributes(), Some("trace=sdk"));
    assert_eq!(out.invoked_production_variant(), Some("AllTraffic"));
    let p: Vec<f32> = serde_json::from_slice(out.body().unwrap().as_ref()).unwrap();
    assert_eq!(p.len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_sees_a_missing_or_unknown_component_as_validation_error() {
    let client = start_with_components().await;
    let missing = invoke(&client, "sagefront-local", jpeg())
        .await
        .unwrap_err();
    let InvokeEndpointError::ValidationError(e) = missing else {
        panic!("expected ValidationError, got {missing:?}")
    };
    assert!(
        e.message()
            .unwrap()
            .starts_with("Inference Component Name header is required"),
        "{e:?}"
    );
    let unknown = client
        .invoke_endpoint()
        .endpoint_name("sagefront-local")
        .inference_component_name("ic-z")
        .content_type("image/jpeg")
        .body(Blob::new(jpeg()))
        .send()
        .await
        .map_err(|e| e.into_service_error())
        .unwrap_err();
    let InvokeEndpointError::ValidationError(e) = unknown else {
        panic!("expected ValidationError, got {unknown:?}")
    };
    assert_eq!(
        e.message(),
        Some("Inference Component ic-z of account 000000000000 not found.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_sees_an_oversized_inference_id_as_validation_error() {
    let (client, state) = start().await;
    state.set_model(Arc::new(Uniform));
    let err = client
        .invoke_endpoint()
        .endpoint_name("sagefront-local")
        .inference_id("x".repeat(65))
        .content_type("image/jpeg")
        .body(Blob::new(jpeg()))
        .send()
        .await
        .map_err(|e| e.into_service_error())
        .unwrap_err();
    let InvokeEndpointError::ValidationError(e) = err else {
        panic!("expected ValidationError, got {err:?}")
    };
    assert!(
        e.message()
            .unwrap()
            .contains("at 'inferenceId' failed to satisfy constraint"),
        "{e:?}"
    );
}
