//! `pintu` command line: `serve`, `check`, and the tools around them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pintu::config::Config;

#[derive(Parser)]
#[command(
    name = "pintu",
    version,
    about = "Multichannel intake gateway for SP4N-LAPOR! complaints"
)]
struct Cli {
    /// Config file; every key can be overridden with PINTU_<KEY__PATH>.
    #[arg(
        long,
        short,
        global = true,
        env = "PINTU_CONFIG",
        default_value = "config/pintu.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway: webhooks, pollers, outbox relay, reply sender, ops endpoints.
    Serve,
    /// Validate the configuration (and the files it names) and exit.
    Check,
    /// Print the RabbitMQ definitions (JSON) of the configured topology.
    Topology,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pintu: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| format!("invalid configuration {}", path.display()))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Check => {
            let cfg = load(&cli.config)?;
            pintu::check::check(&cfg)?;
            println!("{}: ok", cli.config.display());
            Ok(())
        }
        Command::Topology => {
            let cfg = load(&cli.config)?;
            let defs = pintu::broker::Topology::new(&cfg.amqp).definitions();
            println!("{}", serde_json::to_string_pretty(&defs)?);
            Ok(())
        }
        Command::Serve => {
            let cfg = load(&cli.config)?;
            pintu::obs::init_logging(&cfg.log.format, &cfg.log.level);
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let gw = pintu::serve::start(cfg).await?;
                let stop = gw.shutdown.clone();
                tokio::spawn(async move {
                    shutdown_signal().await;
                    stop.cancel();
                });
                gw.wait().await;
                anyhow::Ok(())
            })
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
