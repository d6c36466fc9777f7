//! Entry point: parse the command line once, set up logging, dispatch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use sagefront_model_server::classifier::ImageClassifier;
use sagefront_model_server::config::{Cli, Command, LogFormat, ServeArgs};
use sagefront_model_server::invocation::Served;
use sagefront_model_server::preprocess::ImageLimits;
use sagefront_model_server::server::{self, AppState, ServerOptions};
use sagefront_model_server::tools;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    match Cli::parse().into_command() {
        Command::Serve(args) => serve(args),
        Command::Logits(args) => Ok(tools::logits(&args)?),
        Command::Bench(args) => Ok(tools::bench(&args, &mut std::io::stdout().lock())?),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

fn serve(args: ServeArgs) -> Result<(), BoxError> {
    init_logging(args.log_format);
    let mut options = ServerOptions {
        endpoint_names: args.endpoint_names.clone(),
        served: Served {
            models: args.model_names.clone(),
            variant: args.variant_name.clone(),
            container_hostnames: args.container_hostnames.clone(),
        },
        fault_injection: args.fault_injection,
        ..ServerOptions::default()
    };
    if let Some(n) = args.max_concurrency {
        options.max_concurrency = usize::from(n);
    }
    if options.fault_injection {
        tracing::warn!("fault injection is ON (test only): PUT /faults changes every invocation");
    }
    let state = Arc::new(AppState::new(options));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port)).await?;
        // Load in the background so the port is open (and /ping answers 503) meanwhile.
        let loader = {
            let state = Arc::clone(&state);
            let dir = args.model_dir.clone();
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let model = ImageClassifier::load(&dir, ImageLimits::default())?;
                state.set_model(Arc::new(model));
                tracing::info!(
                    model_dir = %dir.display(),
                    load_ms = started.elapsed().as_secs_f64() * 1e3,
                    "model loaded"
                );
                Ok::<_, BoxError>(())
            })
        };
        let server = tokio::spawn(server::serve(listener, Arc::clone(&state)));
        // A model that cannot load is fatal: SageMaker then sees the container fail.
        if let Err(e) = loader.await? {
            tracing::error!(error = %e, model_dir = %args.model_dir.display(), "cannot load model");
            return Err(e);
        }
        server.await??;
        Ok(())
    })
}
