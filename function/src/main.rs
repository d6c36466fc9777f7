//! Lambda entry point: read configuration, build the SageMaker client once, serve requests.

use std::time::Duration;

use lambda_http::Error;
use sagefront_function::config::Config;
use sagefront_function::handler::App;
use sagefront_function::labels::Labels;
use sagefront_function::memory;
use sagefront_function::runtime;
use sagefront_function::sagemaker::{self, SageMakerEndpoint};

/// Longest the init phase may spend opening the first connection to SageMaker.
const WARM_UP_BUDGET: Duration = Duration::from_secs(1);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    memory::return_large_buffers_to_the_os();
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT=JSON.
    lambda_http::tracing::init_default_subscriber();

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

    // Lives as long as the process; 'static so the loop can run as a task of its own.
    let app: &'static App<_> = Box::leak(Box::new(App::new(config, labels, endpoint)));
    // As a spawned task, not `block_on`'s own future: connection tasks then wake it through the
    // scheduler's queue rather than an eventfd write each time.
    tokio::spawn(runtime::run(|req| app.handle(req))).await?
}
