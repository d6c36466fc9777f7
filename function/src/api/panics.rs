//! Panics as log lines. A panic while serving a request is caught where the request is served
//! (`App::handle`) and answered `500 internal`; this hook makes the panic itself one structured
//! error line (message and location, in the invocation's span) instead of unstructured text on
//! stderr, so the log has exactly one line that says what went wrong.

use std::panic::PanicHookInfo;

/// Replaces the default panic hook (called once, first thing in `main`).
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic = %message(info), location, "panicked");
    }));
}

/// The panic's message, when it has one (`panic!` with a literal or a format).
fn message<'a>(info: &'a PanicHookInfo<'_>) -> &'a str {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
