//! `pintu` command line: `up`, `serve`, `route`, `check`, and the tools around them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pintu::config::Config;
use pintu::routing::{self, Engine};

// jemalloc instead of glibc malloc: sled and hyper allocate and free millions
// of small blocks from several threads; glibc spent ~20% of the gateway's CPU
// in malloc/free and kept freed memory in per-thread arenas. With jemalloc a
// 1M-complaint run was ~15% faster end to end and ended ~40 MiB smaller.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start: two arenas for two cores' worth of
/// threads (the default, four per CPU, keeps more partly used memory), and
/// freed pages returned to the system within half a second, from a background
/// thread rather than in the hot path. `_RJEM_MALLOC_CONF` overrides them.
#[cfg(feature = "jemalloc")]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: MallocConf =
    MallocConf(c"narenas:2,background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0".as_ptr());

/// A C `const char *`, as jemalloc declares `malloc_conf`.
#[cfg(feature = "jemalloc")]
#[repr(transparent)]
pub struct MallocConf(*const std::ffi::c_char);
// SAFETY: it points at a 'static C string that nothing writes.
#[cfg(feature = "jemalloc")]
unsafe impl Sync for MallocConf {}

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
    /// Gateway and router in one process (single-machine install); each keeps
    /// its own sled directory under data_dir.
    Up,
    /// Run the gateway: webhooks, pollers, outbox relay, reply sender, ops endpoints.
    Serve,
    /// Run the router worker: intake queue -> agency exchange.
    Route,
    /// Show the routing decision for a text, with its reasons.
    Explain {
        text: String,
        /// E-mail subject, read together with the text.
        #[arg(long)]
        subject: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Score the router on a labelled JSONL file (docs/routing.md section 5).
    Eval {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Train the routing models on labelled JSONL files and write model.tsv.
    Train {
        /// Labelled files (default: those listed in <routing dir>/training.txt).
        files: Vec<PathBuf>,
        /// Where to write the model (default: <routing dir>/model.tsv).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write nothing; fail if the trained model differs from the file.
        #[arg(long)]
        check: bool,
        /// List the examples the cross-validation got wrong (for data review).
        #[arg(long)]
        show_errors: bool,
    },
    /// Validate the configuration (and the files it names) and exit.
    Check,
    /// Print the RabbitMQ definitions (JSON) of the configured topology.
    Topology,
    /// Show the ops summary (asks the running gateway; falls back to the broker).
    Status {
        /// Print the summary JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Gateway base URL (default: http://<http.addr>).
        #[arg(long)]
        url: Option<String>,
    },
    /// Policy report from the deadline aggregate (counts only, small cells
    /// suppressed): asks the running gateway's /ops/api/report.
    Report {
        /// First day (YYYY-MM-DD, local date of the first disposition).
        #[arg(long)]
        from: String,
        /// Last day (inclusive).
        #[arg(long)]
        to: String,
        /// Columns: day, province, region, category, agency, channel.
        #[arg(long, default_value = "region,category,agency,channel")]
        by: String,
        /// JSON instead of CSV.
        #[arg(long)]
        json: bool,
        /// Gateway base URL (default: http://<http.addr>).
        #[arg(long)]
        url: Option<String>,
    },
    /// Inspect and replay dead-lettered messages.
    Dead {
        #[command(subcommand)]
        command: DeadCommand,
    },
    /// Inspect and replay quarantined e-mail (asks the running gateway).
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Messages held by flood control: list them, release them as complaints.
    Flood {
        #[command(subcommand)]
        command: FloodCommand,
    },
}

#[derive(Subcommand)]
enum FloodCommand {
    /// List held messages, oldest first (asks the running gateway).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
        /// Gateway base URL (default: http://<http.addr>).
        #[arg(long)]
        url: Option<String>,
    },
    /// Publish held messages as the complaints they are (same message_id).
    Replay {
        /// Message ids as shown by `pintu flood list`.
        ids: Vec<String>,
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Also send each citizen the acknowledgement it would have had.
        #[arg(long)]
        ack: bool,
        /// Gateway base URL (default: http://<http.addr>).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// List quarantined e-mail, newest first, with the reason.
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
        /// Gateway base URL (default: http://<http.addr>).
        #[arg(long)]
        url: Option<String>,
    },
    /// Ingest quarantined messages as complaints after all (an operator disagrees).
    Replay {
        /// Ids as shown by `pintu quarantine list`.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Gateway base URL (default: http://<http.addr>).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum DeadCommand {
    /// List dead-lettered messages (nothing is removed).
    List {
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Re-publish dead-lettered messages to where they came from, then remove them.
    Replay {
        /// Message ids as shown by `pintu dead list`.
        ids: Vec<String>,
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Read at most this many messages of the dead queue.
        #[arg(long, default_value_t = 10_000)]
        limit: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pintu: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its sources on one line. An error that prints its source
/// (`#[error("broker: {0}")]` with `#[source]`) does not get it twice, as it
/// would with anyhow's `{:#}`.
fn chain(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let next = cause.to_string();
        if text.is_empty() {
            text = next;
        } else if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
    }
    text
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    Config::load(path).with_context(|| format!("invalid configuration {}", path.display()))
}

/// explain/eval/train need only the tables: without a config file they use
/// the default table locations, so they work in a fresh checkout.
fn table_dirs(config: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    if config.exists() {
        let cfg = load(config)?;
        Ok((routing::routing_dir(&cfg), routing::wilayah_dir(&cfg)))
    } else {
        Ok((PathBuf::from("config/routing"), PathBuf::from("config/wilayah")))
    }
}

fn engine_for(config: &Path) -> anyhow::Result<Engine> {
    let (routing_dir, wilayah_dir) = table_dirs(config)?;
    Ok(Engine::load(&routing_dir, &wilayah_dir)?)
}

fn train(
    config: &Path,
    files: Vec<PathBuf>,
    out: Option<PathBuf>,
    check: bool,
    show_errors: bool,
) -> anyhow::Result<()> {
    let (routing_dir, wilayah_dir) = table_dirs(config)?;
    let files = if files.is_empty() {
        routing::train::training_files(&routing_dir, &routing_dir)?
    } else {
        files
    };
    let trained = routing::train::train(&routing_dir, &wilayah_dir, &files, show_errors)?;
    eprint!("{}", trained.summary);
    let out = out.unwrap_or_else(|| routing_dir.join(routing::MODEL_FILE));
    if check {
        let current = std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
        anyhow::ensure!(
            current == trained.model,
            "{} is not what `pintu train` makes of the data: train again and commit it",
            out.display()
        );
        eprintln!("{} is up to date", out.display());
        return Ok(());
    }
    std::fs::write(&out, &trained.model).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Explain { text, subject, json } => {
            let engine = engine_for(&cli.config)?;
            print!("{}", routing::cli::explain(&engine, &text, subject.as_deref(), json));
            if json {
                println!();
            }
            Ok(())
        }
        Command::Eval { file, json } => {
            let engine = engine_for(&cli.config)?;
            print!("{}", routing::cli::eval_with(&engine, &file, json)?);
            if json {
                println!();
            }
            Ok(())
        }
        Command::Train {
            files,
            out,
            check,
            show_errors,
        } => train(&cli.config, files, out, check, show_errors),
        Command::Route => {
            let cfg = load(&cli.config)?;
            pintu::obs::init_logging(&cfg.log.format, &cfg.log.level);
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(routing::worker::run_route(cfg, shutdown_signal()))?;
            Ok(())
        }
        Command::Up => {
            let cfg = load(&cli.config)?;
            pintu::obs::init_logging(&cfg.log.format, &cfg.log.level);
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let shutdown = on_signal();
                let mut gateway = tokio::spawn(pintu::serve::supervise(cfg.clone(), shutdown.clone()));
                let route_stop = shutdown.clone();
                let mut router = tokio::spawn(routing::worker::run_route(
                    cfg,
                    async move { route_stop.cancelled().await },
                ));
                // Either part ending takes the other down with it: a router
                // that cannot run (bad tables) must not leave complaints
                // unrouted unnoticed, nor a gateway that cannot start.
                let (served, routed) = tokio::select! {
                    g = &mut gateway => {
                        shutdown.cancel();
                        (g, router.await)
                    }
                    r = &mut router => {
                        shutdown.cancel();
                        (gateway.await, r)
                    }
                };
                served.context("gateway task")??;
                routed.context("router task")??;
                anyhow::Ok(())
            })
        }
        Command::Check => {
            let cfg = load(&cli.config)?;
            for w in pintu::check::check(&cfg)? {
                eprintln!("pintu: warning: {w}");
            }
            println!("{}: ok", cli.config.display());
            Ok(())
        }
        Command::Topology => {
            let cfg = load(&cli.config)?;
            let defs = pintu::broker::Topology::new(&cfg.amqp).definitions();
            println!("{}", serde_json::to_string_pretty(&defs)?);
            Ok(())
        }
        Command::Status { json, url } => {
            let cfg = load(&cli.config)?;
            let rt = tokio::runtime::Runtime::new()?;
            let url = url.as_deref();
            let base = pintu::http::gateway_base(cfg.http.addr, url);
            let token = cfg.http.ops_token.as_ref().map(pintu_channels::Secret::expose);
            // The status loop sits above ops (it uses the router), so its
            // figures are added here rather than by ops.
            if json {
                let mut v = rt.block_on(pintu::ops::status::run_cli_json(&cfg, url))?;
                if let (true, Some(o)) = (cfg.status.enabled, v.as_object_mut()) {
                    // `null` when the gateway has no loop or does not answer.
                    let summary = rt.block_on(pintu::status::ops::fetch(&base, token));
                    o.insert("status_loop".into(), serde_json::to_value(summary)?);
                }
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let mut out = rt.block_on(pintu::ops::status::run_cli(&cfg, url))?;
                if cfg.status.enabled {
                    out.push_str(
                        &rt.block_on(pintu::status::ops::fetch_text(&base, token))
                            .unwrap_or_default(),
                    );
                }
                print!("{out}");
            }
            Ok(())
        }
        Command::Report {
            from,
            to,
            by,
            json,
            url,
        } => {
            let cfg = load(&cli.config)?;
            let out = tokio::runtime::Runtime::new()?
                .block_on(pintu::sla::report::fetch_cli(
                    &cfg,
                    url.as_deref(),
                    &from,
                    &to,
                    &by,
                    json,
                ))
                .map_err(anyhow::Error::msg)?;
            print!("{out}");
            Ok(())
        }
        Command::Dead { command } => {
            let cfg = load(&cli.config)?;
            let rt = tokio::runtime::Runtime::new()?;
            let out = match command {
                DeadCommand::List { limit, json } => rt.block_on(pintu::ops::dead::list_cli(&cfg.amqp, limit, json))?,
                DeadCommand::Replay { ids, all, limit } => {
                    rt.block_on(pintu::ops::dead::replay_cli(&cfg.amqp, ids, all, limit))?
                }
            };
            print!("{out}");
            Ok(())
        }
        Command::Quarantine { command } => {
            let cfg = load(&cli.config)?;
            let rt = tokio::runtime::Runtime::new()?;
            let out = match command {
                QuarantineCommand::List { limit, json, url } => {
                    rt.block_on(pintu::ops::quarantine::list_cli(&cfg, limit, json, url.as_deref()))?
                }
                QuarantineCommand::Replay { ids, url } => {
                    rt.block_on(pintu::ops::quarantine::replay_cli(&cfg, &ids, url.as_deref()))?
                }
            };
            print!("{out}");
            Ok(())
        }
        Command::Flood { command } => {
            let cfg = load(&cli.config)?;
            let rt = tokio::runtime::Runtime::new()?;
            let out = match command {
                FloodCommand::List { limit, json, url } => {
                    rt.block_on(pintu::ops::flood::list_cli(&cfg, limit, json, url.as_deref()))?
                }
                FloodCommand::Replay { ids, all, ack, url } => {
                    rt.block_on(pintu::ops::flood::replay_cli(&cfg, ids, all, ack, url.as_deref()))?
                }
            };
            print!("{out}");
            Ok(())
        }
        Command::Serve => {
            let cfg = load(&cli.config)?;
            pintu::obs::init_logging(&cfg.log.format, &cfg.log.level);
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                pintu::serve::supervise(cfg, on_signal()).await?;
                anyhow::Ok(())
            })
        }
    }
}

/// A token cancelled by SIGINT or SIGTERM (call inside the runtime).
fn on_signal() -> tokio_util::sync::CancellationToken {
    let token = tokio_util::sync::CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    token
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
