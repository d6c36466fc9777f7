//! `POST /invocations` and `POST /models/{name}/invocations`: any body to the endpoint and the
//! model's answer back unchanged, targets from the stage and its allow-list, custom attributes
//! both ways, `InferenceId` on every call, and which routes a stage serves.

mod support;

use bytes::Bytes;
use lambda_http::http::{Method, Request as HttpRequest, StatusCode};
use lambda_http::{Body, Context, Request, RequestExt};
use sagefront_function::model::endpoint::{InvokeError, ModelResponse, Target};
use serde_json::json;
use support::*;

fn invocation(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request {
    post(path, content_type, body)
}

fn with_header(mut req: Request, name: &'static str, value: &str) -> Request {
    req.headers_mut().insert(name, value.parse().unwrap());
    req
}

fn answering(body: &'static [u8], content_type: Option<&str>) -> FakeEndpoint {
    FakeEndpoint::with(Ok(ModelResponse {
        body: Bytes::from_static(body),
        content_type: content_type.map(str::to_owned),
        custom_attributes: None,
    }))
}

fn body_bytes(resp: &lambda_http::Response<Body>) -> Vec<u8> {
    resp.body().as_ref().to_vec()
}

#[tokio::test]
async fn a_json_body_reaches_the_model_unchanged_and_its_answer_comes_back_unchanged() {
    let ep = answering(br#"{"generated_text": "hello"}"#, Some("application/json"));
    let sent = r#"{"inputs": "Hi", "parameters": {"max_new_tokens": 5}}"#;
    let req = with_header(
        invocation("/invocations", Some("application/json"), sent),
        "accept",
        "application/json",
    );
    let (status, _, resp) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body_bytes(&resp), br#"{"generated_text": "hello"}"#);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(resp.headers().contains_key("x-request-id"));
    let calls = ep.calls.lock().unwrap();
    assert_eq!(&calls[0].0[..], sent.as_bytes());
    assert_eq!(calls[0].1, "application/json");
    assert_eq!(
        ep.seen.lock().unwrap()[0].accept.as_deref(),
        Some("application/json")
    );
}

#[tokio::test]
async fn binary_bodies_travel_both_ways_byte_for_byte() {
    let answer: &'static [u8] = b"\x00\x01\xFF\xFE binary \x80";
    let ep = answering(answer, Some("application/x-npy"));
    let sent: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let (status, _, resp) = call(
        &app(&ep, &[]),
        invocation(
            "/invocations",
            Some("application/octet-stream"),
            sent.clone(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        matches!(resp.body(), Body::Binary(_)),
        "not UTF-8: base64 through Lambda"
    );
    assert_eq!(body_bytes(&resp), answer);
    assert_eq!(resp.headers()["content-type"], "application/x-npy");
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..], &sent[..]);
}

#[tokio::test]
async fn the_stages_defaults_apply_when_the_request_has_no_content_type_or_accept() {
    let ep = answering(b"1.0\n", None);
    let req: Request = HttpRequest::builder()
        .method(Method::POST)
        .uri("/invocations")
        .body(Body::from("5.1,3.5,1.4,0.2"))
        .unwrap();
    let (status, _, resp) = call(
        &app(
            &ep,
            &[
                ("INVOCATIONS_CONTENT_TYPE", "text/csv"),
                ("INVOCATIONS_ACCEPT", "text/csv"),
            ],
        ),
        req,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ep.calls.lock().unwrap()[0].1, "text/csv");
    assert_eq!(
        ep.seen.lock().unwrap()[0].accept.as_deref(),
        Some("text/csv")
    );
    // A model that names no type: the bytes are still its own.
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(body_bytes(&resp), b"1.0\n");

    // The function's own defaults: JSON in, no Accept.
    let ep = answering(b"{}", Some("application/json"));
    let req: Request = HttpRequest::builder()
        .method(Method::POST)
        .uri("/invocations")
        .body(Body::from("{}"))
        .unwrap();
    call(&app(&ep, &[]), req).await;
    assert_eq!(ep.calls.lock().unwrap()[0].1, "application/json");
    assert_eq!(ep.seen.lock().unwrap()[0].accept, None);
}

#[tokio::test]
async fn a_models_4xx_reaches_the_caller_with_its_status_and_message() {
    let ep = FakeEndpoint::failing(InvokeError::ModelRejectedInput {
        status: 422,
        message: Some("`inputs` must be a string".to_owned()),
    });
    let (status, body, _) = call(
        &app(&ep, &[]),
        invocation("/invocations", Some("application/json"), r#"{"inputs": 5}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"error": {"code": "model_rejected_input", "message": "`inputs` must be a string"}})
    );
    // On the image routes the same failure is the image's fault, as before.
    let (status, body, _) = call(
        &app(&ep, &[]),
        post("/predictions", Some("image/jpeg"), JPEG.to_vec()),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_image")
    );
}

#[tokio::test]
async fn a_models_5xx_stays_502_model_error() {
    let ep = FakeEndpoint::failing(InvokeError::ModelFailed { status: Some(500) });
    let (status, body, _) = call(
        &app(&ep, &[]),
        invocation("/invocations", Some("application/json"), "{}"),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_GATEWAY, "model_error")
    );
}

#[tokio::test]
async fn the_stage_target_goes_with_every_call_predictions_included() {
    let ep = FakeEndpoint::answering(FIVE);
    let a = app(
        &ep,
        &[
            ("TARGET_INFERENCE_COMPONENT", "classifier-ic"),
            ("TARGET_VARIANT", "blue"),
        ],
    );
    call(&a, post("/predictions", Some("image/jpeg"), JPEG.to_vec())).await;
    call(
        &a,
        invocation("/invocations", Some("application/json"), "{}"),
    )
    .await;
    for seen in ep.seen.lock().unwrap().iter() {
        assert_eq!(
            seen.target,
            Target {
                inference_component: Some("classifier-ic".into()),
                target_variant: Some("blue".into()),
                ..Target::default()
            }
        );
    }
}

#[tokio::test]
async fn an_allow_listed_model_is_targeted_and_any_other_name_is_refused_before_sagemaker() {
    let ep = answering(b"{}", Some("application/json"));
    let a = app(
        &ep,
        &[
            ("TARGET_VARIANT", "AllTraffic"),
            (
                "MODELS",
                r#"{"llama": {"inferenceComponent": "llama-3-8b-ic"}, "xgb": {"targetModel": "xgb-v2.tar.gz"}}"#,
            ),
        ],
    );
    let (status, _, _) = call(
        &a,
        invocation("/models/llama/invocations", Some("application/json"), "{}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ep.seen.lock().unwrap()[0].target,
        Target {
            inference_component: Some("llama-3-8b-ic".into()),
            target_variant: Some("AllTraffic".into()),
            ..Target::default()
        }
    );
    for name in ["mistral", "llama-3-8b-ic", "LLAMA", "..", "a%2Fb"] {
        let (status, body, _) = call(
            &a,
            invocation(
                &format!("/models/{name}/invocations"),
                Some("application/json"),
                "{}",
            ),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "unknown_model"),
            "{name}: {body}"
        );
    }
    assert_eq!(
        ep.calls.lock().unwrap().len(),
        1,
        "refused names never reach SageMaker"
    );
}

#[tokio::test]
async fn custom_attributes_pass_both_ways_and_bad_ones_are_400_before_sagemaker() {
    let ep = FakeEndpoint::with(Ok(ModelResponse {
        body: Bytes::from_static(b"[0.5, 0.5]"),
        content_type: Some("application/json".into()),
        custom_attributes: Some("trace=abc; cache=hit".into()),
    }));
    for path in ["/invocations", "/predictions"] {
        let req = with_header(
            post(path, Some("image/jpeg"), JPEG.to_vec()),
            "x-amzn-sagemaker-custom-attributes",
            "trace=abc",
        );
        let (status, _, resp) = call(&app(&ep, &[]), req).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            resp.headers()["x-amzn-sagemaker-custom-attributes"],
            "trace=abc; cache=hit",
            "{path}"
        );
    }
    assert!(
        ep.seen
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.custom_attributes.as_deref() == Some("trace=abc"))
    );

    let ep = FakeEndpoint::answering(FIVE);
    let too_long = "a".repeat(1025);
    for path in ["/invocations", "/predictions"] {
        let req = with_header(
            post(path, Some("image/jpeg"), JPEG.to_vec()),
            "x-amzn-sagemaker-custom-attributes",
            &too_long,
        );
        let (status, body, _) = call(&app(&ep, &[]), req).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_header"),
            "{path}: {body}"
        );
    }
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_content_type_sagemaker_would_refuse_is_400_invalid_header() {
    let ep = FakeEndpoint::answering("{}");
    let req = with_header(
        invocation("/invocations", Some("application/json"), "{}"),
        "accept",
        &format!("application/{}", "x".repeat(1100)),
    );
    let (status, body, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_header")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("accept"),
        "{body}"
    );
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_inference_id_is_the_request_id_on_every_call() {
    let ep = FakeEndpoint::answering(FIVE);
    for (i, path) in ["/predictions", "/invocations"].into_iter().enumerate() {
        let mut ctx = Context::default();
        ctx.request_id = format!("c0ffee-{i}");
        let req = post(path, Some("image/jpeg"), JPEG.to_vec()).with_lambda_context(ctx);
        let (_, _, resp) = call(&app(&ep, &[]), req).await;
        assert_eq!(
            resp.headers()["x-request-id"],
            format!("c0ffee-{i}").as_str()
        );
        assert_eq!(
            ep.seen.lock().unwrap()[i].inference_id,
            format!("c0ffee-{i}")
        );
    }
}

#[tokio::test]
async fn bodies_over_the_payload_limit_are_413_before_sagemaker() {
    let ep = FakeEndpoint::answering("{}");
    let (status, body, _) = call(
        &app(&ep, &[("MAX_IMAGE_BYTES", "1000")]),
        invocation("/invocations", Some("application/json"), "x".repeat(1001)),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert_eq!(
        body["error"]["message"],
        "the request body is 1001 bytes; the limit is 1000 bytes"
    );
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_answer_too_large_for_lambda_is_413_output_too_large() {
    let big: &'static [u8] = Box::leak(vec![b'7'; 4_600_000].into_boxed_slice());
    let ep = answering(big, Some("text/plain"));
    let (status, body, _) = call(
        &app(&ep, &[]),
        invocation("/invocations", Some("application/json"), "{}"),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "output_too_large")
    );
}

#[tokio::test]
async fn a_stage_serves_only_its_routes() {
    let ep = FakeEndpoint::answering(FIVE);
    let llm_stage = app(&ep, &[("ROUTES", "invocations")]);
    for path in ["/predictions", "/", "/resize"] {
        let (status, body, _) =
            call(&llm_stage, post(path, Some("image/jpeg"), JPEG.to_vec())).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let (status, _, _) = call(
        &llm_stage,
        invocation("/invocations", Some("application/json"), "{}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let image_stage = app(&ep, &[("ROUTES", "predictions,resize")]);
    for path in ["/invocations", "/models/x/invocations"] {
        let (status, body, _) = call(
            &image_stage,
            invocation(path, Some("application/json"), "{}"),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let (status, _, _) = call(
        &image_stage,
        post("/predictions", Some("image/jpeg"), JPEG.to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Health is on everywhere.
    for a in [&llm_stage, &image_stage] {
        let req: Request = HttpRequest::builder()
            .method(Method::GET)
            .uri("/health")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(call(a, req).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn the_per_model_route_comes_through_api_gateway_as_a_proxy_path() {
    // API Gateway's `/{proxy+}` resource, with the stage in the path.
    let ep = answering(b"{}", Some("application/json"));
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/apigw_rest_unknown_path.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&text).unwrap();
    event["path"] = json!("/models/llama/invocations");
    event["pathParameters"] = json!({"proxy": "models/llama/invocations"});
    event["requestContext"]["path"] = json!("/prod/models/llama/invocations");
    assert_eq!(event["resource"], "/{proxy+}");
    let text = event.to_string();
    let req = lambda_http::request::from_str(&text).unwrap();
    let (status, body, _) = call(
        &app(
            &ep,
            &[("MODELS", r#"{"llama": {"inferenceComponent": "llama-ic"}}"#)],
        ),
        req,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ep.seen.lock().unwrap()[0]
            .target
            .inference_component
            .as_deref(),
        Some("llama-ic")
    );
}
