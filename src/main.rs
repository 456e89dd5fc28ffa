//! `pintu` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pintu::config::Config;
use pintu::routing::{self, Engine};

#[derive(Parser)]
#[command(name = "pintu", version, about = "Multichannel intake gateway for SP4N-LAPOR!")]
struct Cli {
    /// Configuration file.
    #[arg(long, env = "PINTU_CONFIG", default_value = "config/pintu.toml", global = true)]
    config: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Router worker: intake queue -> agency exchange.
    Route,
    /// Show the routing decision for a text, with its reasons.
    Explain {
        text: String,
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Score the router on a labelled JSONL file (ROUTING.md §5).
    Eval {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// explain/eval need only the tables: without a config file they use the
/// default table locations, so they work in a fresh checkout.
fn engine_for(config: &Path) -> Result<Engine, String> {
    if config.exists() {
        let cfg = Config::load(config).map_err(|e| format!("{}: {e}", config.display()))?;
        Engine::from_config(&cfg).map_err(|e| e.to_string())
    } else {
        Engine::load(Path::new("config/routing"), Path::new("config/wilayah")).map_err(|e| e.to_string())
    }
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PINTU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cfg.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Route => Config::load(&cli.config)
            .map_err(|e| format!("{}: {e}", cli.config.display()))
            .and_then(|cfg| {
                init_logging(&cfg);
                let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
                rt.block_on(routing::worker::run_route(cfg, shutdown_signal()))
                    .map_err(|e| e.to_string())
            }),
        Cmd::Explain { text, subject, json } => engine_for(&cli.config).map(|engine| {
            print!("{}", routing::cli::explain(&engine, &text, subject.as_deref(), json));
            if json {
                println!();
            }
        }),
        Cmd::Eval { file, json } => engine_for(&cli.config)
            .and_then(|engine| routing::cli::eval_with(&engine, &file, json).map_err(|e| e.to_string()))
            .map(|out| {
                print!("{out}");
                if json {
                    println!();
                }
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pintu: {e}");
            ExitCode::FAILURE
        }
    }
}
