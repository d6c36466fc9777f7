//! The deadline is honoured: the model call gets what is left of the invocation's time less a
//! margin (or `INVOKE_TIMEOUT_MS`, when that is shorter), so a slow model still gets the
//! function's own `504 endpoint_timeout` before Lambda ends the invocation.

mod support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_http::http::StatusCode;
use lambda_http::{Context, RequestExt};
use sagefront_function::api::DEADLINE_MARGIN;
use support::*;

fn deadline_in(ms: u64) -> Context {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut ctx = Context::default();
    ctx.request_id = "req-deadline".to_owned();
    ctx.deadline = now + ms;
    ctx
}

fn slow_model() -> FakeEndpoint {
    let mut ep = FakeEndpoint::answering(FIVE);
    ep.delay = Duration::from_secs(20);
    ep
}

#[tokio::test]
async fn a_slow_model_is_504_before_the_deadline() {
    let ep = slow_model();
    let started = Instant::now();
    let req = post("/predictions", Some("image/jpeg"), JPEG.to_vec())
        .with_lambda_context(deadline_in(1_500));
    let (status, body, _) = call(&app(&ep, &[("INVOKE_TIMEOUT_MS", "25000")]), req).await;
    let took = started.elapsed();
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GATEWAY_TIMEOUT, "endpoint_timeout")
    );
    assert!(
        took < Duration::from_millis(1_500),
        "answered after {took:?}"
    );
    let budget = ep.seen.lock().unwrap()[0].timeout;
    assert!(
        budget <= Duration::from_millis(1_500) - DEADLINE_MARGIN
            && budget > Duration::from_millis(500),
        "{budget:?}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} ms", budget.as_millis())),
        "{message}"
    );
}

#[tokio::test]
async fn a_shorter_invoke_timeout_still_wins_over_a_far_deadline() {
    let ep = slow_model();
    let req = post("/invocations", Some("application/json"), "{}")
        .with_lambda_context(deadline_in(60_000));
    let (status, _, _) = call(&app(&ep, &[("INVOKE_TIMEOUT_MS", "300")]), req).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        ep.seen.lock().unwrap()[0].timeout,
        Duration::from_millis(300)
    );
}

#[tokio::test]
async fn no_time_left_is_504_without_calling_the_model() {
    let ep = slow_model();
    let req = post("/predictions", Some("image/jpeg"), JPEG.to_vec())
        .with_lambda_context(deadline_in(100));
    let (status, body, _) = call(&app(&ep, &[]), req).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GATEWAY_TIMEOUT, "endpoint_timeout")
    );
    assert!(ep.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_deadline_already_past_is_an_emulators_and_is_ignored() {
    // cargo lambda watch sends `Lambda-Runtime-Deadline-Ms: 600000` (its timeout, not a time).
    let ep = FakeEndpoint::answering(FIVE);
    let mut ctx = Context::default();
    ctx.request_id = "req-emulated".to_owned();
    ctx.deadline = 600_000;
    let req = post("/predictions", Some("image/jpeg"), JPEG.to_vec()).with_lambda_context(ctx);
    let (status, _, _) = call(&app(&ep, &[("INVOKE_TIMEOUT_MS", "2500")]), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ep.seen.lock().unwrap()[0].timeout,
        Duration::from_millis(2500)
    );
}

#[tokio::test]
async fn without_a_deadline_the_call_gets_invoke_timeout_ms() {
    let ep = FakeEndpoint::answering(FIVE);
    let (status, _, _) = call(
        &app(&ep, &[("INVOKE_TIMEOUT_MS", "4321")]),
        post("/predictions", Some("image/jpeg"), JPEG.to_vec()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ep.seen.lock().unwrap()[0].timeout,
        Duration::from_millis(4321)
    );
}
