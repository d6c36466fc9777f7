//! Test-only fault injection, for end-to-end tests of how callers survive a failing model.
//!
//! Off unless the server starts with `--fault-injection` (never set in the Docker image or by
//! SageMaker). When on, `PUT /faults` with `{"mode": ..., "delay_ms": ...}` sets the fault that
//! every following `POST /endpoints/{name}/invocations` gets, and `GET /faults` reports the mode
//! and how many delayed invocations started and finished (so a test can prove its caller gave up
//! before the delay ended without timing anything). Modes:
//!
//! - `off`: normal inference.
//! - `delay`: wait `delay_ms`, then answer normally.
//! - `model_error`: SageMaker's ModelError (the container failed, original status 500).
//! - `not_ready`: SageMaker's ModelNotReadyException.
//! - `garbage`, `nan`, `empty`: 200 with an unusable body (not JSON, `[NaN, …]`, `[]`).
//! - `drop`: the response is cut off after its headers (a dropped connection).

use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body::Frame;
use serde::{Deserialize, Serialize};

/// The fault applied to runtime invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    /// Normal inference.
    #[default]
    Off,
    /// Wait, then answer normally.
    Delay,
    /// SageMaker's ModelError with original status 500.
    ModelError,
    /// SageMaker's ModelNotReadyException.
    NotReady,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with NaN in the probabilities.
    Nan,
    /// 200 with an empty array.
    Empty,
    /// The response is cut off after its headers.
    Drop,
}

/// A fault as set through `PUT /faults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FaultSetting {
    /// What to do.
    pub mode: FaultMode,
    /// For `delay`: how long, in milliseconds (at most 120,000).
    #[serde(default)]
    pub delay_ms: u64,
}

/// The report of `GET /faults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    /// The current setting.
    #[serde(flatten)]
    pub setting: FaultSetting,
    /// Delayed invocations that started waiting.
    pub delays_started: u64,
    /// Delayed invocations whose wait ended.
    pub delays_finished: u64,
}

/// What an invocation must do instead of (or after) normal inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Answer with SageMaker's ModelError.
    ModelError,
    /// Answer with SageMaker's ModelNotReadyException.
    NotReady,
    /// Answer 200 with this body.
    Body(&'static [u8]),
    /// Cut the response off after its headers.
    Drop,
}

const MAX_DELAY_MS: u64 = 120_000;

/// The fault switch shared by the routes.
#[derive(Debug, Default)]
pub struct Faults {
    setting: Mutex<FaultSetting>,
    delays_started: AtomicU64,
    delays_finished: AtomicU64,
}

impl Faults {
    /// Sets the fault.
    ///
    /// # Errors
    /// A message when `delay_ms` is out of range.
    pub fn set(&self, setting: FaultSetting) -> Result<(), String> {
        if setting.mode == FaultMode::Delay && !(1..=MAX_DELAY_MS).contains(&setting.delay_ms) {
            return Err(format!("delay_ms must be from 1 to {MAX_DELAY_MS}"));
        }
        *self
            .setting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = setting;
        Ok(())
    }

    /// The current setting and counters.
    pub fn report(&self) -> FaultReport {
        FaultReport {
            setting: *self
                .setting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            delays_started: self.delays_started.load(Ordering::SeqCst),
            delays_finished: self.delays_finished.load(Ordering::SeqCst),
        }
    }

    /// Applies the current fault to one invocation: waits for `delay`, or says what to answer
    /// instead of inference (`None`: infer normally).
    pub async fn apply(&self) -> Option<Injected> {
        let setting = self.report().setting;
        match setting.mode {
            FaultMode::Off => None,
            FaultMode::Delay => {
                self.delays_started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(setting.delay_ms)).await;
                self.delays_finished.fetch_add(1, Ordering::SeqCst);
                None
            }
            FaultMode::ModelError => Some(Injected::ModelError),
            FaultMode::NotReady => Some(Injected::NotReady),
            FaultMode::Garbage => Some(Injected::Body(b"<html>this is not JSON</html>")),
            FaultMode::Nan => Some(Injected::Body(b"[NaN, 0.5, 0.5]")),
            FaultMode::Empty => Some(Injected::Body(b"[]")),
            FaultMode::Drop => Some(Injected::Drop),
        }
    }
}

/// `PUT /faults`.
pub async fn put(faults: &Faults, setting: FaultSetting) -> (StatusCode, Json<serde_json::Value>) {
    match faults.set(setting) {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::to_value(faults.report()).unwrap_or_default()),
        ),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "message": message })),
        ),
    }
}

/// A body that fails on its first frame: hyper aborts the connection after the headers.
#[derive(Debug)]
pub struct CutOff;

impl http_body::Body for CutOff {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected fault: connection dropped",
        ))))
    }
}

/// The body of a `drop` fault.
pub fn cut_off_body() -> Body {
    Body::new(CutOff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn off_by_default_and_each_mode_maps_to_its_injection() {
        let faults = Faults::default();
        assert_eq!(faults.apply().await, None);
        for (mode, expected) in [
            (FaultMode::ModelError, Some(Injected::ModelError)),
            (FaultMode::NotReady, Some(Injected::NotReady)),
            (FaultMode::Empty, Some(Injected::Body(b"[]"))),
            (FaultMode::Drop, Some(Injected::Drop)),
            (FaultMode::Off, None),
        ] {
            faults.set(FaultSetting { mode, delay_ms: 0 }).unwrap();
            assert_eq!(faults.apply().await, expected, "{mode:?}");
        }
    }

    #[tokio::test]
    async fn delay_counts_started_and_finished() {
        let faults = Faults::default();
        faults
            .set(FaultSetting {
                mode: FaultMode::Delay,
                delay_ms: 5,
            })
            .unwrap();
        assert_eq!(faults.apply().await, None);
        let r = faults.report();
        assert_eq!((r.delays_started, r.delays_finished), (1, 1));
    }

    #[test]
    fn delay_out_of_range_is_rejected() {
        let faults = Faults::default();
        assert!(
            faults
                .set(FaultSetting {
                    mode: FaultMode::Delay,
                    delay_ms: 0
                })
                .is_err()
        );
        assert!(
            faults
                .set(FaultSetting {
                    mode: FaultMode::Delay,
                    delay_ms: 999_999
                })
                .is_err()
        );
    }

    #[test]
    fn settings_parse_from_json() {
        let s: FaultSetting =
            serde_json::from_str(r#"{"mode": "delay", "delay_ms": 2000}"#).unwrap();
        assert_eq!(
            s,
            FaultSetting {
                mode: FaultMode::Delay,
                delay_ms: 2000
            }
        );
        let s: FaultSetting =
            serde_json::from_str(r#"{"mode": "bad_model"}"#).map_or(FaultSetting::default(), |s| s);
        assert_eq!(s.mode, FaultMode::Off);
    }
}
