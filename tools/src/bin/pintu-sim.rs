//! `pintu-sim`: the social-platform simulator as a command.
//!
//! `pintu-sim serve` runs the X, Graph and Telegram endpoints on one port;
//! the `send-*` commands act as the platforms calling Pintu's webhooks, signed
//! as the platforms sign them; `add-mention` and `sent` drive and read a
//! running simulator.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pintu_tools::sim::client::{self, Answer};
use pintu_tools::sim::{Sim, SimConfig};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "pintu-sim",
    about = "Simulated X, Meta and Telegram for Pintu tests and demos"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the platform APIs (X mentions/tweets, Graph send, Telegram sendMessage).
    Serve {
        #[arg(long, default_value = "127.0.0.1:9000")]
        addr: SocketAddr,
        #[arg(long, default_value = "1708170817081708")]
        x_user_id: String,
        #[arg(long, default_value = "lapor1708")]
        x_username: String,
        /// Bearer token expected on the mentions endpoint (any when unset).
        #[arg(long, env = "SIM_X_BEARER")]
        x_bearer: Option<String>,
        /// User-context token expected on POST /2/tweets.
        #[arg(long, env = "SIM_X_USER_TOKEN")]
        x_user_token: Option<String>,
        /// Mentions requests per window.
        #[arg(long, default_value_t = 450)]
        rate_limit: u32,
        #[arg(long, default_value_t = 900)]
        rate_window_secs: u64,
        #[arg(long, env = "SIM_GRAPH_TOKEN")]
        graph_token: Option<String>,
        #[arg(long, env = "SIM_TELEGRAM_TOKEN")]
        telegram_token: Option<String>,
    },
    /// Send a WhatsApp Cloud API text message notification.
    SendWhatsapp {
        #[arg(long)]
        to: String,
        #[arg(long, env = "META_APP_SECRET")]
        app_secret: String,
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "Warga")]
        name: String,
        #[arg(long)]
        text: String,
        /// Message id (`wamid.…`); reuse one to simulate Meta's redelivery.
        #[arg(long)]
        id: Option<String>,
        #[arg(long, default_value = "106540352242922")]
        phone_number_id: String,
    },
    /// Send a Messenger message event (`object: page`).
    SendMessenger {
        #[arg(long)]
        to: String,
        #[arg(long, env = "META_APP_SECRET")]
        app_secret: String,
        /// Page-scoped id of the citizen.
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "112233445566778")]
        page_id: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        id: Option<String>,
    },
    /// Send an Instagram message event (`object: instagram`).
    SendInstagram {
        #[arg(long)]
        to: String,
        #[arg(long, env = "META_APP_SECRET")]
        app_secret: String,
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "17841400000000000")]
        ig_id: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        id: Option<String>,
    },
    /// Send a Telegram update with a private text message.
    SendTelegram {
        #[arg(long)]
        to: String,
        #[arg(long, env = "TELEGRAM_SECRET_TOKEN")]
        secret_token: String,
        /// Telegram user id of the citizen (also the chat id).
        #[arg(long)]
        from: i64,
        #[arg(long, default_value = "Warga")]
        name: String,
        #[arg(long, default_value = "")]
        username: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        message_id: Option<i64>,
        #[arg(long)]
        update_id: Option<i64>,
    },
    /// Send an X Account Activity `tweet_create_events` mention.
    SendX {
        #[arg(long)]
        to: String,
        #[arg(long, env = "X_CONSUMER_SECRET")]
        consumer_secret: String,
        #[arg(long, default_value = "1708170817081708")]
        for_user_id: String,
        #[arg(long, default_value = "lapor1708")]
        our_username: String,
        /// Author's numeric user id.
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "warga")]
        username: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        id: Option<String>,
    },
    /// Meta's subscription check (GET hub.mode=subscribe…).
    VerifyMeta {
        #[arg(long)]
        to: String,
        #[arg(long, env = "META_VERIFY_TOKEN")]
        verify_token: String,
        #[arg(long, default_value = "1158201444")]
        challenge: String,
    },
    /// X's CRC check; with --consumer-secret also checks the answer.
    CrcX {
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "Y2hhbGxlbmdlLXRva2VuLTEyMw")]
        token: String,
        #[arg(long, env = "X_CONSUMER_SECRET")]
        consumer_secret: Option<String>,
    },
    /// Add a mention to a running simulator's X timeline.
    AddMention {
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        sim: String,
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "warga")]
        username: String,
        #[arg(long, default_value = "lapor1708")]
        our_username: String,
        #[arg(long)]
        text: String,
    },
    /// Print what a running simulator was asked to send.
    Sent {
        #[arg(long, default_value = "http://127.0.0.1:9000")]
        sim: String,
    },
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}{:016X}", rand::random::<u64>())
}

fn report(result: Result<Answer, reqwest::Error>) -> ExitCode {
    match result {
        Ok(a) => {
            println!("HTTP {}\n{}", a.status, a.body.trim_end());
            if (200..300).contains(&a.status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("request failed: {}", e.without_url());
            ExitCode::FAILURE
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve {
            addr,
            x_user_id,
            x_username,
            x_bearer,
            x_user_token,
            rate_limit,
            rate_window_secs,
            graph_token,
            telegram_token,
        } => {
            let cfg = SimConfig {
                x_user_id,
                x_username,
                x_bearer,
                x_user_token,
                rate_limit,
                rate_window: Duration::from_secs(rate_window_secs),
                graph_token,
                telegram_token,
            };
            let sim = match Sim::start_on(addr, cfg).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("cannot listen on {addr}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!("pintu-sim listening on {}", sim.url());
            let _ = tokio::signal::ctrl_c().await;
            sim.stop().await;
            ExitCode::SUCCESS
        }
        Cmd::SendWhatsapp {
            to,
            app_secret,
            from,
            name,
            text,
            id,
            phone_number_id,
        } => {
            let wamid = id.unwrap_or_else(|| random_id("wamid.SIM"));
            let body = client::whatsapp_text(&phone_number_id, &from, &name, &wamid, &text);
            report(client::send_meta(&to, &app_secret, &body).await)
        }
        Cmd::SendMessenger {
            to,
            app_secret,
            from,
            page_id,
            text,
            id,
        } => {
            let mid = id.unwrap_or_else(|| random_id("m_"));
            let body = client::messaging_text("page", &page_id, &from, &mid, &text);
            report(client::send_meta(&to, &app_secret, &body).await)
        }
        Cmd::SendInstagram {
            to,
            app_secret,
            from,
            ig_id,
            text,
            id,
        } => {
            let mid = id.unwrap_or_else(|| random_id("aWdf"));
            let body = client::messaging_text("instagram", &ig_id, &from, &mid, &text);
            report(client::send_meta(&to, &app_secret, &body).await)
        }
        Cmd::SendTelegram {
            to,
            secret_token,
            from,
            name,
            username,
            text,
            message_id,
            update_id,
        } => {
            let message_id = message_id.unwrap_or_else(|| i64::from(rand::random::<u16>()) + 1);
            let update_id = update_id.unwrap_or_else(|| i64::from(rand::random::<u32>() >> 1));
            let body = client::telegram_text(update_id, from, &name, &username, message_id, &text);
            report(client::send_telegram(&to, &secret_token, &body).await)
        }
        Cmd::SendX {
            to,
            consumer_secret,
            for_user_id,
            our_username,
            from,
            username,
            text,
            id,
        } => {
            let id =
                id.unwrap_or_else(|| (1_900_000_000_000_000_000u64 + u64::from(rand::random::<u32>())).to_string());
            let body = client::x_mention_event(&for_user_id, &our_username, &id, &from, &username, &text);
            report(client::send_x(&to, &consumer_secret, &body).await)
        }
        Cmd::VerifyMeta {
            to,
            verify_token,
            challenge,
        } => report(client::meta_verify(&to, &verify_token, &challenge).await),
        Cmd::CrcX {
            to,
            token,
            consumer_secret,
        } => {
            let result = client::x_crc(&to, &token).await;
            if let (Ok(a), Some(secret)) = (&result, &consumer_secret) {
                let expected = client::x_crc_expected(secret, &token);
                let got = serde_json::from_str::<serde_json::Value>(&a.body)
                    .ok()
                    .and_then(|v| v["response_token"].as_str().map(str::to_string));
                if got.as_deref() != Some(expected.as_str()) {
                    eprintln!("CRC answer does not match the consumer secret");
                    return ExitCode::FAILURE;
                }
                println!("CRC answer verified");
            }
            report(result)
        }
        Cmd::AddMention {
            sim,
            from,
            username,
            our_username,
            text,
        } => {
            let tweet = json!({
                "text": format!("@{our_username} {text}"),
                "author_id": from,
                "author_username": username,
                "author_name": username,
            });
            let url = format!("{}/sim/x/mentions", sim.trim_end_matches('/'));
            let result = async {
                let resp = reqwest::Client::new().post(&url).json(&tweet).send().await?;
                Ok(Answer {
                    status: resp.status().as_u16(),
                    body: resp.text().await.unwrap_or_default(),
                })
            }
            .await;
            report(result)
        }
        Cmd::Sent { sim } => {
            let url = format!("{}/sim/sent", sim.trim_end_matches('/'));
            let result = async {
                let resp = reqwest::get(&url).await?;
                Ok(Answer {
                    status: resp.status().as_u16(),
                    body: resp.text().await.unwrap_or_default(),
                })
            }
            .await;
            report(result)
        }
    }
}
