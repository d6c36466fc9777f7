//! Lambda entry point: read configuration, build the SageMaker client once, serve requests on
//! `lambda_http`'s runtime.

use std::convert::Infallible;
use std::time::Duration;

use lambda_http::{Error, service_fn};
use sagefront_function::api::{App, panics};
use sagefront_function::config::Config;
use sagefront_function::model::labels::Labels;
use sagefront_function::model::sagemaker::{self, SageMakerEndpoint};

/// Longest the init phase may spend opening the first connection to SageMaker.
const WARM_UP_BUDGET: Duration = Duration::from_secs(1);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT=JSON.
    lambda_http::tracing::init_default_subscriber();
    panics::log_panics();

    let config = Config::from_env()?;
    let labels = match &config.labels_path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!("invalid configuration: LABELS_PATH {path:?} cannot be read: {e}")
            })?;
            Labels::parse(&text)
                .map_err(|e| format!("invalid configuration: LABELS_PATH {path:?}: {e}"))?
        }
        None => Labels::default(),
    };

    let sdk_config = sagemaker::load_sdk_config(sagemaker::https_client()).await;
    let endpoint = SageMakerEndpoint::new(
        sagemaker::client(&sdk_config, config.invoke_timeout),
        &config.endpoint_name,
    );
    endpoint
        .warm_up(WARM_UP_BUDGET.min(config.invoke_timeout))
        .await;
    tracing::info!(endpoint = %config.endpoint_name, labels = labels.len(), "initialised");

    // Lives as long as the process; 'static so the runtime's worker tasks can share it.
    let app: &'static App<_> = Box::leak(Box::new(App::new(config, labels, endpoint)));
    // One invocation at a time, or AWS_LAMBDA_MAX_CONCURRENCY at once where Lambda sets it.
    lambda_http::run_concurrent(service_fn(move |req| async move {
        Ok::<_, Infallible>(app.handle(req).await)
    }))
    .await
}
