//! Handler tests: every row of the API contract, through a fake endpoint.
//!
//! Requests are built two ways: `lambda_http` request builders for the common cases, and real
//! API Gateway / Function URL events from `tests/data` read with `lambda_http::request::from_str`.

mod support;

use base64::Engine as _;

use lambda_http::http::{Method, Request as HttpRequest, StatusCode};
use lambda_http::{Body, Context, Request, RequestExt};
use sagefront_function::model::endpoint::InvokeError;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn health_returns_ok_without_calling_the_model() {
    let ep = FakeEndpoint::answering(FIVE);
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (status, body, resp) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn json_request_returns_top_k_sorted_with_labels_and_class_count() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG), "k": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"predictions": [
            {"index": 1, "label": "one", "probability": 0.5},
            {"index": 2, "label": "two", "probability": 0.2},
            {"index": 3, "label": "three", "probability": 0.2}
        ], "classes": 5})
    );
    let calls = ep.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        &calls[0].0[..],
        JPEG,
        "the image bytes reach the model unchanged"
    );
    assert_eq!(calls[0].1, "application/x-image");
}

#[tokio::test]
async fn the_original_request_shape_data_and_topk_works_on_the_root_route() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/", &json!({"data": b64(JPEG), "topk": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(indices(&body), vec![1]);
}

#[tokio::test]
async fn image_wins_when_both_image_and_data_are_sent() {
    let ep = FakeEndpoint::answering(FIVE);
    let other = b"\xFF\xD8\xFF\xE1 other";
    let req = post_json(
        "/predictions",
        &json!({"image": b64(JPEG), "data": b64(other)}),
    );
    let (status, _, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..], JPEG);
}

#[tokio::test]
async fn curl_d_body_without_json_content_type_is_read_as_json() {
    let ep = FakeEndpoint::answering(FIVE);
    let body = json!({"image": b64(JPEG), "k": 2}).to_string();
    for ct in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ] {
        let (status, body, _) = call(&app(&ep, &[]), post("/predictions", ct, body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{ct:?}: {body}");
        assert_eq!(indices(&body), vec![1, 2]);
    }
}

#[tokio::test]
async fn raw_image_body_with_query_k() {
    let ep = FakeEndpoint::answering(FIVE);
    for ct in [
        "image/jpeg",
        "image/png",
        "image/webp",
        "application/x-image",
        "application/octet-stream",
    ] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post("/predictions?k=2", Some(ct), JPEG.to_vec()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{ct}");
        assert_eq!(indices(&body), vec![1, 2], "{ct}");
    }
}

#[tokio::test]
async fn base64_with_line_breaks_and_data_urls_is_accepted() {
    let ep = FakeEndpoint::answering(FIVE);
    let wrapped: String = b64(JPEG)
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for image in [wrapped, format!("data:image/jpeg;base64,{}", b64(JPEG))] {
        let (status, _, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": image})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(ep.calls.lock().unwrap().iter().all(|(b, _)| &b[..] == JPEG));
}

#[tokio::test]
async fn without_k_all_classes_are_returned_like_the_original() {
    let ep = FakeEndpoint::answering(FIVE);
    let (_, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(indices(&body), vec![1, 2, 3, 0, 4]);
}

#[tokio::test]
async fn without_k_default_top_k_applies() {
    let ep = FakeEndpoint::answering(FIVE);
    let (_, body, _) = call(
        &app(&ep, &[("DEFAULT_TOP_K", "2")]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(indices(&body), vec![1, 2]);
}

#[tokio::test]
async fn k_larger_than_the_class_count_returns_all_classes() {
    let ep = FakeEndpoint::answering(FIVE);
    for k in [json!(6), json!(1_000_000), json!(18446744073709551615u64)] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG), "k": k})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["predictions"].as_array().unwrap().len(), 5);
    }
}

#[tokio::test]
async fn returns_400_invalid_k_for_anything_but_a_positive_integer() {
    let ep = FakeEndpoint::answering(FIVE);
    for k in [
        json!(0),
        json!(-3),
        json!(5.0),
        json!(2.5),
        json!("5"),
        json!(true),
        json!([1]),
        json!({}),
    ] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG), "k": k})),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_k"),
            "k = {k}"
        );
    }
    for q in ["0", "-1", "1.5", "abc", ""] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post(
                &format!("/predictions?k={q}"),
                Some("image/jpeg"),
                JPEG.to_vec(),
            ),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_k"),
            "?k={q}"
        );
    }
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn returns_400_invalid_json_for_malformed_or_non_object_json() {
    let ep = FakeEndpoint::answering(FIVE);
    for body in ["{", "{\"image\": }", "[1,2]", "\"image\"", "null"] {
        let (status, json, _) = call(
            &app(&ep, &[]),
            post("/predictions", Some("application/json"), body),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_REQUEST, "invalid_json"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn duplicate_fields_and_non_utf8_bodies_are_invalid_json() {
    let ep = FakeEndpoint::answering(FIVE);
    let image = b64(JPEG);
    let duplicate = format!(r#"{{"image": "{image}", "image": "{image}"}}"#);
    let mut not_utf8 = format!(r#"{{"note": "x", "image": "{image}"}}"#).into_bytes();
    not_utf8[10] = 0xFF; // inside "note": a field the function does not read
    for body in [Body::Text(duplicate), Body::Binary(not_utf8)] {
        let (status, json, _) = call(
            &app(&ep, &[]),
            post("/predictions", Some("application/json"), body),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_REQUEST, "invalid_json"),
            "{json}"
        );
    }
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn json_escapes_in_the_image_string_are_undone_before_decoding() {
    // PHP's json_encode writes every "/" as "\/"; a JSON encoder may also escape as \u002F.
    let ep = FakeEndpoint::answering(FIVE);
    let image: Vec<u8> = JPEG
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(600))
        .collect();
    let encoded = b64(&image);
    assert!(
        encoded.contains('/'),
        "the sample must contain a slash to escape"
    );
    for escaped in [encoded.replace('/', "\\/"), encoded.replace('/', "\\u002F")] {
        let body = format!(r#"{{"image": "{escaped}", "k": 1}}"#);
        // A text body (the event's body string) and a binary one (isBase64Encoded) are parsed
        // along different paths.
        for body in [Body::Text(body.clone()), Body::Binary(body.into_bytes())] {
            let (status, json, _) = call(
                &app(&ep, &[]),
                post("/predictions", Some("application/json"), body),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{json}");
        }
    }
    let calls = ep.calls.lock().unwrap();
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|(sent, _)| sent[..] == image[..]));
}

#[tokio::test]
async fn returns_400_missing_image_when_no_image_is_sent() {
    let ep = FakeEndpoint::answering(FIVE);
    for body in [
        json!({}),
        json!({"k": 3}),
        json!({"image": ""}),
        json!({"image": null}),
    ] {
        let (status, json, _) = call(&app(&ep, &[]), post_json("/predictions", &body)).await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_REQUEST, "missing_image"),
            "{body}"
        );
    }
    let (status, json, _) = call(&app(&ep, &[]), post("/predictions", None, "")).await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "missing_image")
    );
    let (status, json, _) = call(
        &app(&ep, &[]),
        post("/predictions", Some("image/jpeg"), Vec::new()),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "missing_image")
    );
}

#[tokio::test]
async fn returns_400_invalid_base64() {
    let ep = FakeEndpoint::answering(FIVE);
    for image in [json!("not base64 at all!"), json!(12), json!(["a"])] {
        let (status, json, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": image})),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_REQUEST, "invalid_base64"),
            "{image}"
        );
    }
}

#[tokio::test]
async fn returns_400_invalid_image_for_non_images_without_calling_the_model() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, json, _) = call(
        &app(&ep, &[]),
        post_json(
            "/predictions",
            &json!({"image": b64(b"hello, I am plain text")}),
        ),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "invalid_image")
    );
    let (status, json, _) = call(
        &app(&ep, &[]),
        post("/predictions", Some("image/jpeg"), b"%PDF-1.7".to_vec()),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::BAD_REQUEST, "invalid_image")
    );
    assert!(
        ep.calls.lock().unwrap().is_empty(),
        "a paid model must not see garbage"
    );
}

#[tokio::test]
async fn returns_413_when_image_exceeds_limit() {
    let ep = FakeEndpoint::answering(FIVE);
    let limits = [("MAX_IMAGE_BYTES", "1000"), ("PREPROCESS", "off")];
    let mut big = JPEG.to_vec();
    big.resize(1001, 0);
    let (status, json, _) = call(
        &app(&ep, &limits),
        post("/predictions", Some("image/jpeg"), big.clone()),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (status, json, _) = call(
        &app(&ep, &limits),
        post_json("/predictions", &json!({"image": b64(&big)})),
    )
    .await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    big.truncate(1000);
    let (status, _, _) = call(
        &app(&ep, &limits),
        post("/predictions", Some("image/jpeg"), big),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "exactly at the limit is accepted");
    assert_eq!(ep.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn image_errors_come_before_k_errors_for_raw_and_json_bodies() {
    let ep = FakeEndpoint::answering(FIVE);
    let limits = [("MAX_IMAGE_BYTES", "1000"), ("PREPROCESS", "off")];
    let mut big = JPEG.to_vec();
    big.resize(1001, 0);
    let cases = [
        (
            post("/predictions?k=0", Some("image/jpeg"), big.clone()),
            "payload_too_large",
        ),
        (
            post("/predictions?k=0", Some("image/jpeg"), Vec::<u8>::new()),
            "missing_image",
        ),
        (
            post_json("/predictions", &json!({"image": b64(&big), "k": 0})),
            "payload_too_large",
        ),
        (
            post_json("/predictions", &json!({"image": "###", "k": 0})),
            "invalid_base64",
        ),
        (
            post_json("/predictions", &json!({"image": b64(JPEG), "k": 0})),
            "invalid_k",
        ),
    ];
    for (req, expected) in cases {
        let (_, json, _) = call(&app(&ep, &limits), req).await;
        assert_eq!(error_code(&json), expected, "{json}");
    }
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn returns_415_for_unsupported_content_types() {
    let ep = FakeEndpoint::answering(FIVE);
    for ct in [
        "text/csv",
        "image/tiff",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let (status, json, _) = call(
            &app(&ep, &[]),
            post("/predictions", Some(ct), JPEG.to_vec()),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            "{ct}"
        );
    }
}

#[tokio::test]
async fn returns_404_for_unknown_routes_and_405_for_wrong_methods() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, json, _) = call(&app(&ep, &[]), post_json("/nope", &json!({}))).await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/predictions")
        .body(Body::Empty)
        .unwrap();
    let (status, json, resp) = call(&app(&ep, &[]), req).await;
    assert_eq!(
        (status, error_code(&json)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert_eq!(resp.headers()["allow"], "POST");
    let req = HttpRequest::builder()
        .method(Method::DELETE)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (status, _, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn endpoint_failures_map_to_the_contract() {
    let cases = [
        (
            InvokeError::ModelRejectedInput {
                status: 400,
                message: None,
            },
            400,
            "invalid_image",
        ),
        (
            InvokeError::ModelFailed { status: Some(500) },
            502,
            "model_error",
        ),
        (InvokeError::NotReady, 503, "endpoint_unavailable"),
        (
            InvokeError::Unavailable("connection refused".into()),
            503,
            "endpoint_unavailable",
        ),
        (InvokeError::Throttled, 429, "throttled"),
        (InvokeError::Timeout, 504, "endpoint_timeout"),
        (
            InvokeError::Internal("AccessDenied".into()),
            500,
            "internal",
        ),
    ];
    for (err, status, code) in cases {
        let ep = FakeEndpoint::failing(err.clone());
        let (got, json, resp) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG)})),
        )
        .await;
        assert_eq!((got.as_u16(), error_code(&json)), (status, code), "{err:?}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            !message.contains("AccessDenied") && !message.contains("refused"),
            "internal detail leaked: {message}"
        );
        if status == 503 {
            assert!(resp.headers().contains_key("retry-after"));
        }
    }
}

#[tokio::test]
async fn unusable_model_output_is_502_bad_model_response() {
    for output in [
        "",
        "[]",
        "[NaN]",
        "[0.5, -0.5]",
        "[\"a\"]",
        "not json",
        "{\"prediction\": null}",
    ] {
        let ep = FakeEndpoint::answering(output);
        let (status, json, _) = call(
            &app(&ep, &[]),
            post_json("/predictions", &json!({"image": b64(JPEG)})),
        )
        .await;
        assert_eq!(
            (status, error_code(&json)),
            (StatusCode::BAD_GATEWAY, "bad_model_response"),
            "{output:?}"
        );
    }
}

#[tokio::test]
async fn json_lines_output_and_logits_mode_work() {
    let ep = FakeEndpoint::answering("{\"prediction\": [0.1, 0.9]}\n");
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(indices(&body), vec![1, 0]);

    let ep = FakeEndpoint::answering("[-2.0, 3.0, 0.0]");
    let (status, body, _) = call(
        &app(&ep, &[("MODEL_OUTPUT", "logits")]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(indices(&body), vec![1, 2, 0]);
    let total: f64 = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9);
}

#[tokio::test]
async fn labels_appear_only_where_they_exist() {
    let ep = FakeEndpoint::answering("[0.1, 0.2, 0.3, 0.1, 0.1, 0.2]");
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/predictions", &json!({"image": b64(JPEG)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let top = &body["predictions"][0];
    assert_eq!(top["index"], 2);
    assert_eq!(top["label"], "two");
    let unlabelled = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["index"] == 5)
        .unwrap();
    assert!(unlabelled.get("label").is_none());
}

#[tokio::test]
async fn model_content_type_is_configurable() {
    let ep = FakeEndpoint::answering(FIVE);
    let a = app(&ep, &[("MODEL_CONTENT_TYPE", "image/jpeg")]);
    call(&a, post_json("/predictions", &json!({"image": b64(JPEG)}))).await;
    assert_eq!(ep.calls.lock().unwrap()[0].1, "image/jpeg");
}

#[tokio::test]
async fn every_response_carries_the_lambda_request_id() {
    let ep = FakeEndpoint::answering(FIVE);
    let mut ctx = Context::default();
    ctx.request_id = "0f1e2d3c-request-id".to_owned();
    let requests = [
        post_json("/predictions", &json!({"image": b64(JPEG)})),
        post_json("/predictions", &json!({})),
        post_json("/nope", &json!({})),
        HttpRequest::builder()
            .method(Method::GET)
            .uri("/health")
            .body(Body::Empty)
            .unwrap(),
    ];
    for req in requests {
        let (_, _, resp) = call(&app(&ep, &[]), req.with_lambda_context(ctx.clone())).await;
        assert_eq!(resp.headers()["x-request-id"], "0f1e2d3c-request-id");
    }
    let (_, _, resp) = call(&app(&ep, &[]), post_json("/nope", &json!({}))).await;
    assert!(
        resp.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("local-")
    );
}

#[tokio::test]
async fn cors_origin_is_sent_when_configured() {
    let ep = FakeEndpoint::answering(FIVE);
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (_, _, resp) = call(
        &app(&ep, &[("CORS_ALLOW_ORIGIN", "https://app.example.com")]),
        req,
    )
    .await;
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/health")
        .body(Body::Empty)
        .unwrap();
    let (_, _, resp) = call(&app(&ep, &[]), req).await;
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
}

// ---- Real event shapes, read by lambda_http as the runtime reads them ----

#[tokio::test]
async fn rest_event_with_a_stage_routes_to_predictions() {
    assert!(
        std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none(),
        "the test must not rely on it"
    );
    let ep = FakeEndpoint::answering(FIVE);
    let req = event("apigw_rest_predictions_json.json");
    assert_eq!(
        req.uri().path(),
        "/prod/predictions",
        "lambda_http puts the stage into the path"
    );
    let (status, body, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1, 2]);
}

#[tokio::test]
async fn rest_proxy_event_with_binary_body_and_query_k() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_proxy_raw_jpeg.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1]);
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..4], b"\xFF\xD8\xFF\xE0");
}

#[tokio::test]
async fn rest_event_behind_a_custom_domain_base_path() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_custom_domain.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1]);
}

#[tokio::test]
async fn rest_event_on_the_root_resource_with_a_curl_d_body() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_root_form.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["predictions"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn rest_event_for_an_unknown_path_is_404() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_rest_unknown_path.json")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/predict")
    );
}

#[tokio::test]
async fn function_url_events_route_and_decode_binary_bodies() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("function_url_raw_png.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(indices(&body), vec![1, 2, 3]);
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..4], b"\x89PNG");
    let (status, body, _) = call(&app(&ep, &[]), event("function_url_health.json")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
}

#[tokio::test]
async fn http_api_event_with_a_named_stage_routes_to_predictions() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(&app(&ep, &[]), event("apigw_http_named_stage.json")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// ---- POST /resize and preprocessing (images built in memory) ----

fn gradient(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 90])
    }))
}

/// Pseudo-random pixels: they do not compress, so byte sizes are predictable.
fn noise(w: u32, h: u32) -> image::DynamicImage {
    let mut state = 0x9E37_79B9u32;
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    }))
}

fn encoded(img: &image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn png(w: u32, h: u32) -> Vec<u8> {
    encoded(&gradient(w, h), image::ImageFormat::Png)
}

/// Decodes a `/resize` JSON answer: the image's own dimensions, its format and the JSON's.
fn resized(body: &Value) -> ((u32, u32), image::ImageFormat, (u64, u64), String) {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["image"].as_str().expect("an image field"))
        .unwrap();
    let img = image::load_from_memory(&bytes).unwrap();
    (
        (img.width(), img.height()),
        image::guess_format(&bytes).unwrap(),
        (
            body["width"].as_u64().unwrap(),
            body["height"].as_u64().unwrap(),
        ),
        body["format"].as_str().unwrap().to_owned(),
    )
}

fn with_accept(mut req: Request, accept: &str) -> Request {
    req.headers_mut().insert("accept", accept.parse().unwrap());
    req
}

#[tokio::test]
async fn resize_returns_json_with_base64_image_size_and_format() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, resp) = call(
        &app(&ep, &[]),
        post_json(
            "/resize",
            &json!({"image": b64(&png(400, 200)), "width": 100}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(
        resized(&body),
        (
            (100, 50),
            image::ImageFormat::Png,
            (100, 50),
            "png".to_owned()
        )
    );
    assert!(
        ep.calls.lock().unwrap().is_empty(),
        "resizing never calls the model"
    );
}

#[tokio::test]
async fn resize_with_accept_image_returns_the_image_itself() {
    let ep = FakeEndpoint::answering(FIVE);
    let mut ctx = Context::default();
    ctx.request_id = "resize-request-id".to_owned();
    let req = with_accept(
        post_json(
            "/resize",
            &json!({"image": b64(&png(64, 64)), "width": 32, "format": "jpeg"}),
        ),
        "image/*",
    )
    .with_lambda_context(ctx);
    let resp = app(&ep, &[]).handle(req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.headers()["x-request-id"], "resize-request-id");
    let Body::Binary(bytes) = resp.body() else {
        panic!("expected a binary body, API Gateway base64-encodes it")
    };
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (32, 32));
}

#[tokio::test]
async fn resize_accept_naming_a_format_chooses_it_unless_format_is_given() {
    let ep = FakeEndpoint::answering(FIVE);
    let image = b64(&png(40, 40));
    let resp = app(&ep, &[])
        .handle(with_accept(
            post_json("/resize", &json!({"image": image, "height": 20})),
            "image/webp, image/png;q=0.9",
        ))
        .await;
    assert_eq!(resp.headers()["content-type"], "image/webp");
    let resp = app(&ep, &[])
        .handle(with_accept(
            post_json(
                "/resize",
                &json!({"image": image, "height": 20, "format": "png"}),
            ),
            "image/webp",
        ))
        .await;
    assert_eq!(resp.headers()["content-type"], "image/png");
    let (_, body, resp) = call(
        &app(&ep, &[]),
        with_accept(
            post_json("/resize", &json!({"image": image, "height": 20})),
            "application/json, */*",
        ),
    )
    .await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(body["format"], "png");
}

#[tokio::test]
async fn the_original_resize_request_shape_has_width_and_height_the_right_way_round() {
    let ep = FakeEndpoint::answering(FIVE);
    // The original passed (height, width) to cv2.resize; 400 × 200 into 100 × 50 must stay wide.
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json(
            "/resize",
            &json!({"data": b64(&png(400, 200)), "height": 50, "width": 100}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(resized(&body).0, (100, 50));
    let (_, body, _) = call(
        &app(&ep, &[]),
        post_json(
            "/resize",
            &json!({"data": b64(&png(400, 200)), "height": 90, "width": 30, "fit": "exact"}),
        ),
    )
    .await;
    assert_eq!(resized(&body).0, (30, 90));
}

#[tokio::test]
async fn resize_fit_modes_give_the_documented_sizes() {
    let ep = FakeEndpoint::answering(FIVE);
    let image = b64(&png(400, 200));
    for (fit, expected) in [
        ("exact", (100, 100)),
        ("contain", (100, 50)),
        ("cover", (100, 100)),
    ] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post_json(
                "/resize",
                &json!({"image": image, "width": 100, "height": 100, "fit": fit}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{fit}: {body}");
        assert_eq!(resized(&body).0, expected, "{fit}");
    }
    // Only a height: the width follows the aspect ratio, whatever the fit.
    let (_, body, _) = call(
        &app(&ep, &[]),
        post_json(
            "/resize",
            &json!({"image": image, "height": 50, "fit": "cover"}),
        ),
    )
    .await;
    assert_eq!(resized(&body).0, (100, 50));
}

#[tokio::test]
async fn resize_round_trips_each_input_format_in_a_raw_body_with_query_parameters() {
    let ep = FakeEndpoint::answering(FIVE);
    let img = gradient(60, 30);
    for (format, content_type, name) in [
        (image::ImageFormat::Jpeg, "image/jpeg", "jpeg"),
        (image::ImageFormat::Png, "image/png", "png"),
        (image::ImageFormat::WebP, "image/webp", "webp"),
        (image::ImageFormat::Gif, "image/gif", "png"),
        (image::ImageFormat::Bmp, "image/bmp", "png"),
    ] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post(
                "/resize?width=30&height=30&fit=cover",
                Some(content_type),
                encoded(&img, format),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{content_type}: {body}");
        let (dims, _, _, out_format) = resized(&body);
        assert_eq!(
            (dims, out_format.as_str()),
            ((30, 30), name),
            "{content_type}"
        );
    }
    let (_, body, _) = call(
        &app(&ep, &[]),
        post(
            "/resize?width=20&format=jpeg&quality=40",
            Some("application/octet-stream"),
            png(40, 40),
        ),
    )
    .await;
    assert_eq!(resized(&body).1, image::ImageFormat::Jpeg);
}

#[tokio::test]
async fn resize_applies_exif_orientation() {
    // Stored 80 × 40, then an APP1 Exif segment saying Orientation 6 (rotate 90° clockwise).
    let stored = encoded(&gradient(80, 40), image::ImageFormat::Jpeg);
    let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.append(&mut tiff);
    let mut jpeg = stored[..2].to_vec();
    jpeg.extend_from_slice(&[0xFF, 0xE1]);
    jpeg.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend_from_slice(&app1);
    jpeg.extend_from_slice(&stored[2..]);

    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post("/resize?width=20", Some("image/jpeg"), jpeg),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ((w, h), _, json_dims, _) = resized(&body);
    assert_eq!(
        ((w, h), json_dims),
        ((20, 40), (20, 40)),
        "displayed portrait"
    );
}

#[tokio::test]
async fn resize_returns_400_invalid_size_for_bad_dimensions_and_options() {
    let ep = FakeEndpoint::answering(FIVE);
    let image = b64(&png(20, 20));
    for extra in [
        json!({}),
        json!({"width": 0}),
        json!({"width": -5}),
        json!({"width": "100"}),
        json!({"width": 8193}),
        json!({"width": 100, "height": 100000}),
        json!({"width": 10, "fit": "stretch"}),
        json!({"width": 10, "fit": 1}),
        json!({"width": 10, "format": "gif"}),
        json!({"width": 10, "quality": 101}),
        json!({"width": 10, "quality": 0}),
        json!({"width": 8192, "height": 8192, "fit": "exact"}),
    ] {
        let mut req = extra.as_object().unwrap().clone();
        req.insert("image".to_owned(), json!(image));
        let (status, body, _) =
            call(&app(&ep, &[]), post_json("/resize", &Value::Object(req))).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_size"),
            "{extra}: {body}"
        );
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }
    let (status, body, _) = call(
        &app(&ep, &[]),
        post("/resize?width=abc", Some("image/png"), png(20, 20)),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_size")
    );
}

#[tokio::test]
async fn resize_returns_400_invalid_image_for_corrupt_data_and_bombs() {
    let ep = FakeEndpoint::answering(FIVE);
    let jpeg = encoded(&gradient(64, 64), image::ImageFormat::Jpeg);
    // 7000 × 7000 black pixels compress to a few hundred kilobytes: 49 MP, over the 40 MP limit.
    let bomb = encoded(
        &image::DynamicImage::ImageLuma8(image::GrayImage::new(7000, 7000)),
        image::ImageFormat::Png,
    );
    for bad in [
        b"hello, I am plain text".to_vec(),
        jpeg[..jpeg.len() / 2].to_vec(),
        JPEG.to_vec(),
        bomb,
    ] {
        let (status, body, resp) = call(
            &app(&ep, &[]),
            post_json("/resize", &json!({"image": b64(&bad), "width": 10})),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_image"),
            "{body}"
        );
        assert!(resp.headers().contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn resize_returns_413_when_the_input_or_the_output_is_too_large() {
    let ep = FakeEndpoint::answering(FIVE);
    // 1600 × 1200 noise is 5.76 MB as PNG: more than a Lambda response can carry.
    let bmp = encoded(&noise(1600, 1200), image::ImageFormat::Bmp);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post(
            "/resize?width=1600&height=1200&format=png",
            Some("image/bmp"),
            bmp,
        ),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "output_too_large"),
        "{body}"
    );
    // Base64 of more than Lambda's 6 MiB payload limit is refused before decoding.
    let huge = "A".repeat(10_000_000);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post_json("/resize", &json!({"image": huge, "width": 10})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test]
async fn resize_returns_415_404_and_405_like_the_other_routes() {
    let ep = FakeEndpoint::answering(FIVE);
    for ct in ["text/csv", "image/tiff", "multipart/form-data; boundary=x"] {
        let (status, body, _) = call(
            &app(&ep, &[]),
            post("/resize?width=10", Some(ct), png(20, 20)),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            "{ct}"
        );
    }
    let req = HttpRequest::builder()
        .method(Method::GET)
        .uri("/resize")
        .body(Body::Empty)
        .unwrap();
    let (status, body, resp) = call(&app(&ep, &[]), req).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    assert_eq!(resp.headers()["allow"], "POST");
    let (_, body, _) = call(&app(&ep, &[]), post_json("/nope", &json!({}))).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/resize")
    );
}

/// The image the fake model received, decoded.
fn sent_image(ep: &FakeEndpoint) -> (image::ImageFormat, (u32, u32)) {
    let calls = ep.calls.lock().unwrap();
    let bytes = &calls.last().expect("the model was called").0;
    let img = image::load_from_memory(bytes).unwrap();
    (
        image::guess_format(bytes).unwrap(),
        (img.width(), img.height()),
    )
}

#[tokio::test]
async fn oversize_images_are_downscaled_to_jpeg_before_the_model_by_default() {
    let ep = FakeEndpoint::answering(FIVE);
    let big = encoded(&noise(400, 300), image::ImageFormat::Png);
    assert!(big.len() > 300_000);
    let limits = [
        ("MAX_IMAGE_BYTES", "100000"),
        ("PREPROCESS_MAX_SIDE", "128"),
    ];
    for req in [
        post("/predictions", Some("image/png"), big.clone()),
        // Base64 over the model's limit is read too, up to what can reach a Lambda.
        post_json("/predictions", &json!({"image": b64(&big), "k": 2})),
    ] {
        let (status, body, _) = call(&app(&ep, &limits), req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(sent_image(&ep), (image::ImageFormat::Jpeg, (128, 96)));
    }
    assert!(
        ep.calls
            .lock()
            .unwrap()
            .iter()
            .all(|(b, _)| b.len() <= 100_000)
    );
}

#[tokio::test]
async fn oversize_images_within_the_limit_reach_the_model_unchanged() {
    let ep = FakeEndpoint::answering(FIVE);
    let image = png(1000, 800);
    let (status, _, _) = call(
        &app(&ep, &[("PREPROCESS_MAX_SIDE", "64")]),
        post("/predictions", Some("image/png"), image.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&ep.calls.lock().unwrap()[0].0[..], &image[..]);
}

#[tokio::test]
async fn oversize_data_that_cannot_be_decoded_still_gets_413() {
    let ep = FakeEndpoint::answering(FIVE);
    let mut big = JPEG.to_vec();
    big.resize(5000, 0x55);
    for preprocess in ["oversize", "always"] {
        let (status, body, _) = call(
            &app(
                &ep,
                &[("MAX_IMAGE_BYTES", "1000"), ("PREPROCESS", preprocess)],
            ),
            post("/predictions", Some("image/jpeg"), big.clone()),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            "{preprocess}"
        );
    }
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn preprocess_always_shrinks_every_image_and_passes_the_rest_through() {
    let ep = FakeEndpoint::answering(FIVE);
    let a = app(
        &ep,
        &[("PREPROCESS", "always"), ("PREPROCESS_MAX_SIDE", "100")],
    );
    let (status, _, _) = call(&a, post("/predictions", Some("image/png"), png(1000, 500))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sent_image(&ep), (image::ImageFormat::Jpeg, (100, 50)));
    // Undecodable but within the limit: the model decides, as with PREPROCESS=off.
    let (status, _, _) = call(&a, post("/predictions", Some("image/jpeg"), JPEG.to_vec())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&ep.calls.lock().unwrap()[1].0[..], JPEG);
}

#[tokio::test]
async fn gif_and_bmp_reach_the_model_converted_never_as_they_are() {
    let source = gradient(60, 40);
    for (format, content_type) in [
        (image::ImageFormat::Gif, "image/gif"),
        (image::ImageFormat::Bmp, "image/bmp"),
    ] {
        let bytes = encoded(&source, format);
        // Preprocessing off, or on but not needed: PNG at the image's own size.
        for preprocess in ["off", "oversize"] {
            let ep = FakeEndpoint::answering(FIVE);
            for req in [
                post("/predictions", Some(content_type), bytes.clone()),
                post_json("/predictions", &json!({"image": b64(&bytes)})),
            ] {
                let (status, body, _) = call(&app(&ep, &[("PREPROCESS", preprocess)]), req).await;
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{content_type} {preprocess}: {body}"
                );
                assert_eq!(sent_image(&ep), (image::ImageFormat::Png, (60, 40)));
            }
        }
        // Preprocessing that shrinks every image: its JPEG.
        let ep = FakeEndpoint::answering(FIVE);
        let a = app(
            &ep,
            &[("PREPROCESS", "always"), ("PREPROCESS_MAX_SIDE", "30")],
        );
        let (status, _, _) = call(&a, post("/predictions", Some(content_type), bytes)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(sent_image(&ep), (image::ImageFormat::Jpeg, (30, 20)));
    }
    // A GIF that cannot be decoded is refused before the model.
    let ep = FakeEndpoint::answering(FIVE);
    let (status, body, _) = call(
        &app(&ep, &[]),
        post(
            "/predictions",
            Some("image/gif"),
            b"GIF89a\x01\x00 broken".to_vec(),
        ),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_image"),
        "{body}"
    );
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn preprocess_off_keeps_rejecting_oversize_base64_before_decoding() {
    let ep = FakeEndpoint::answering(FIVE);
    let big = encoded(&noise(100, 100), image::ImageFormat::Png);
    let (status, body, _) = call(
        &app(&ep, &[("MAX_IMAGE_BYTES", "1000"), ("PREPROCESS", "off")]),
        post_json("/predictions", &json!({"image": b64(&big)})),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn rest_event_for_resize_with_a_binary_body_answers_the_image() {
    let ep = FakeEndpoint::answering(FIVE);
    let resp = app(&ep, &[])
        .handle(event("apigw_rest_resize_raw_png.json"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(resp.headers().contains_key("x-request-id"));
    // lambda_http answers a binary body with isBase64Encoded: true, which API Gateway decodes
    // because the request's Accept (image/png) matches the binary media type image/*.
    let Body::Binary(bytes) = resp.body() else {
        panic!("expected a binary body")
    };
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png).unwrap();
    assert_eq!((img.width(), img.height()), (4, 2));
}

#[tokio::test]
async fn fault_injection_panics_only_when_the_function_is_configured_for_it() {
    let ep = FakeEndpoint::answering(FIVE);
    let faulty = || {
        let mut req = post("/predictions", Some("image/jpeg"), JPEG.to_vec());
        req.headers_mut()
            .insert("x-sagefront-fault", "panic".parse().unwrap());
        req
    };
    let (status, body, _) = call(&app(&ep, &[("FAULT_INJECTION", "on")]), faulty()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal")
    );
    // Off (the default): the header means nothing.
    let (status, _, _) = call(&app(&ep, &[]), faulty()).await;
    assert_eq!(status, StatusCode::OK);
}
