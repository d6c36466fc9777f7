//! Lambda entry point: read configuration, build the SageMaker client once, serve requests on
//! `lambda_http`'s runtime.

use std::convert::Infallible;
use std::time::Duration;

use lambda_http::{Error, service_fn};
use sagefront_function::api::{App, panics};
use sagefront_function::config::Config;
use sagefront_function::logs::LogSettings;
use sagefront_function::model::labels::Labels;
use sagefront_function::model::sagemaker::{self, SageMakerEndpoint};

/// Longest the init phase may spend opening the first connection to SageMaker.
const WARM_UP_BUDGET: Duration = Duration::from_secs(1);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT=JSON, as lambda_http's default subscriber.
    LogSettings::from_lookup(|name| std::env::var(name).ok()).init();
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

    let app = App::new(config, labels, endpoint);
    // One invocation at a time, as Lambda sends them. (Lambda Managed Instances'
    // AWS_LAMBDA_MAX_CONCURRENCY would need lambda_http's `concurrency-tokio` feature and
    // `run_concurrent`: a second instantiation of the runtime's service stack, ~40 KB of the
    // zip, for a mode the stack does not deploy.)
    lambda_http::run(service_fn(|req| async {
        Ok::<_, Infallible>(app.handle(req).await)
    }))
    .await
}
