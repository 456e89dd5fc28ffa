//! The platform endpoints of the simulator and their recorded traffic.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Credentials the simulated platforms expect; `None` accepts anything.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The account whose mentions are served (@lapor1708's id).
    pub x_user_id: String,
    pub x_username: String,
    /// App-only bearer token for `GET /2/users/:id/mentions`.
    pub x_bearer: Option<String>,
    /// User-context token for `POST /2/tweets`.
    pub x_user_token: Option<String>,
    /// Mentions requests per window, and the window (X: 180–450 per 15 min).
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub graph_token: Option<String>,
    /// Full bot token (`123456:ABC…`).
    pub telegram_token: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            x_user_id: "1708170817081708".into(),
            x_username: "lapor1708".into(),
            x_bearer: None,
            x_user_token: None,
            rate_limit: 450,
            rate_window: Duration::from_secs(900),
            graph_token: None,
            telegram_token: None,
        }
    }
}

/// A tweet in the simulated timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimTweet {
    #[serde(default)]
    pub id: u64,
    pub text: String,
    pub author_id: String,
    #[serde(default)]
    pub author_username: String,
    #[serde(default)]
    pub author_name: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// (`replied_to` | `quoted` | `retweeted`, id)
    #[serde(default)]
    pub referenced_tweets: Vec<(String, String)>,
    #[serde(default)]
    pub in_reply_to_user_id: Option<String>,
}

/// Something a platform was asked to send.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    /// `x`, `whatsapp`, `messenger` (Graph `me/messages`, Messenger and Instagram) or `telegram`.
    pub platform: String,
    pub path: String,
    pub body: Value,
}

/// One call of the mentions endpoint, as answered.
#[derive(Debug, Clone, Serialize)]
pub struct MentionsRequest {
    pub query: BTreeMap<String, String>,
    pub status: u16,
    pub remaining: Option<u32>,
    /// `x-rate-limit-reset` sent (epoch seconds).
    pub reset: u64,
    /// When it arrived (epoch seconds).
    pub at: f64,
}

struct Inner {
    cfg: SimConfig,
    tweets: Vec<SimTweet>,
    next_id: u64,
    window_reset: u64,
    used: u32,
    requests: Vec<MentionsRequest>,
    sent: Vec<Sent>,
    fail_sends: VecDeque<(u16, Value)>,
    /// Scripted answers of the next mentions requests: `None` = normal.
    fail_mentions: VecDeque<Option<u16>>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running simulator.
pub struct Sim {
    pub addr: SocketAddr,
    inner: Shared,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn bearer_ok(headers: &HeaderMap, expected: &Option<String>) -> bool {
    match expected {
        None => true,
        Some(t) => headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|p| pintu_channels::auth::secret_eq(p.as_bytes(), t.as_bytes())),
    }
}

impl Sim {
    /// Start on an ephemeral loopback port.
    pub async fn start(cfg: SimConfig) -> std::io::Result<Sim> {
        Sim::start_on("127.0.0.1:0".parse().map_err(std::io::Error::other)?, cfg).await
    }

    pub async fn start_on(addr: SocketAddr, cfg: SimConfig) -> std::io::Result<Sim> {
        let inner = Arc::new(Mutex::new(Inner {
            cfg,
            tweets: Vec::new(),
            next_id: 1_800_000_000_000_000_000,
            window_reset: 0,
            used: 0,
            requests: Vec::new(),
            sent: Vec::new(),
            fail_sends: VecDeque::new(),
            fail_mentions: VecDeque::new(),
        }));
        let app = Router::new()
            .route("/2/users/{id}/mentions", get(mentions))
            .route("/2/tweets", post(create_tweet))
            .route("/{version}/{node}/messages", post(graph_send))
            .route("/{bot}/sendMessage", post(telegram_send))
            .route("/sim/sent", get(sent_list))
            .route("/sim/x/mentions", post(add_mention_http))
            .route("/sim/x/requests", get(requests_list))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
        Ok(Sim {
            addr,
            inner,
            shutdown,
            task,
        })
    }

    /// Base URL (`http://127.0.0.1:port`), the value for every `*_base` key.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Add a tweet mentioning the account; returns its id. Ids grow, as snowflakes do.
    pub fn add_tweet(&self, tweet: SimTweet) -> String {
        add_tweet(&self.inner, tweet)
    }

    /// A plain mention: `@<account> <text>` by `author_id`.
    pub fn add_mention(&self, author_id: &str, username: &str, text: &str) -> String {
        let account = self.inner.lock().cfg.x_username.clone();
        self.add_tweet(SimTweet {
            id: 0,
            text: format!("@{account} {text}"),
            author_id: author_id.into(),
            author_username: username.into(),
            author_name: username.into(),
            created_at: String::new(),
            conversation_id: None,
            referenced_tweets: Vec::new(),
            in_reply_to_user_id: None,
        })
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.inner.lock().sent.clone()
    }

    pub fn mention_requests(&self) -> Vec<MentionsRequest> {
        self.inner.lock().requests.clone()
    }

    /// Use up the current rate-limit window (as another client of the same app
    /// would) and make it last `reset_in` from now: the next request gets 429.
    pub fn exhaust_rate_limit(&self, reset_in: Duration) {
        let mut s = self.inner.lock();
        s.used = s.cfg.rate_limit;
        s.window_reset = (now_epoch() + reset_in.as_secs_f64()).ceil() as u64;
    }

    /// The next send (tweet, Graph, Telegram) answers with this status and body.
    pub fn fail_next_send(&self, status: u16, body: Value) {
        self.inner.lock().fail_sends.push_back((status, body));
    }

    /// The next mentions request (after rate-limit accounting) fails with this
    /// status, as X does during an incident.
    pub fn fail_next_mentions(&self, status: u16) {
        self.inner.lock().fail_mentions.push_back(Some(status));
    }

    /// Answer `ok` more mentions requests normally, then fail one with `status`.
    pub fn fail_mentions_after(&self, ok: usize, status: u16) {
        let mut s = self.inner.lock();
        s.fail_mentions.extend(std::iter::repeat_n(None, ok));
        s.fail_mentions.push_back(Some(status));
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

fn add_tweet(inner: &Shared, mut tweet: SimTweet) -> String {
    let mut s = inner.lock();
    // Snowflake-like: far apart, strictly increasing.
    s.next_id += 1_000_003;
    tweet.id = s.next_id;
    if tweet.created_at.is_empty() {
        tweet.created_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    if tweet.conversation_id.is_none() {
        tweet.conversation_id = Some(tweet.id.to_string());
    }
    let id = tweet.id.to_string();
    s.tweets.push(tweet);
    id
}

fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        Json(json!({"title": title, "detail": detail, "type": "about:blank", "status": status.as_u16()})),
    )
        .into_response()
}

fn invalid_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"
        })),
    )
        .into_response()
}

const MENTIONS_PARAMS: &[&str] = &[
    "max_results",
    "since_id",
    "until_id",
    "pagination_token",
    "start_time",
    "end_time",
    "tweet.fields",
    "expansions",
    "user.fields",
    "media.fields",
    "place.fields",
    "poll.fields",
];

fn token_for(upper: u64) -> String {
    format!("7140dibdnow9c{upper:x}")
}

fn token_upper(t: &str) -> Option<u64> {
    u64::from_str_radix(t.strip_prefix("7140dibdnow9c")?, 16).ok()
}

async fn mentions(
    State(inner): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let now = now_epoch();
    let mut s = inner.lock();
    if !bearer_ok(&headers, &s.cfg.x_bearer) {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    if now >= s.window_reset as f64 {
        s.window_reset = (now + s.cfg.rate_window.as_secs_f64()).ceil() as u64;
        s.used = 0;
    }
    let limit = s.cfg.rate_limit;
    let reset = s.window_reset;
    let limited = s.used >= limit;
    if !limited {
        s.used += 1;
    }
    let remaining = limit.saturating_sub(s.used);
    let mut record = MentionsRequest {
        query: query.clone(),
        status: 200,
        remaining: Some(remaining),
        reset,
        at: now,
    };
    let rate_headers = [
        ("x-rate-limit-limit", limit.to_string()),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-reset", reset.to_string()),
    ];
    let with_headers = |mut r: Response| {
        for (k, v) in &rate_headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                r.headers_mut().insert(*k, v);
            }
        }
        r
    };
    if limited {
        record.status = 429;
        s.requests.push(record);
        return with_headers(problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Too Many Requests",
        ));
    }
    let answer = match s.fail_mentions.pop_front().flatten() {
        Some(status) => problem(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "Service Unavailable",
            "Service Unavailable",
        ),
        None => mentions_page(&s, &id, &query),
    };
    record.status = answer.status().as_u16();
    s.requests.push(record);
    with_headers(answer)
}

fn mentions_page(s: &Inner, id: &str, query: &BTreeMap<String, String>) -> Response {
    if let Some(bad) = query.keys().find(|k| !MENTIONS_PARAMS.contains(&k.as_str())) {
        return invalid_request(format!("The query parameter [{bad}] is not one of {MENTIONS_PARAMS:?}"));
    }
    let max_results: u64 = match query.get("max_results").map(|m| m.parse::<u64>()) {
        None => 10,
        Some(Ok(n)) if (5..=100).contains(&n) => n,
        Some(_) => return invalid_request("The `max_results` query parameter value is not between 5 and 100".into()),
    };
    let parse_id = |k: &str| -> Result<Option<u64>, Box<Response>> {
        match query.get(k) {
            None => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                Box::new(invalid_request(format!(
                    "The `{k}` query parameter value [{v}] is not valid"
                )))
            }),
        }
    };
    let since = match parse_id("since_id") {
        Ok(v) => v.unwrap_or(0),
        Err(r) => return *r,
    };
    let until = match parse_id("until_id") {
        Ok(v) => v.unwrap_or(u64::MAX),
        Err(r) => return *r,
    };
    let upper = match query.get("pagination_token") {
        None => u64::MAX,
        Some(t) => match token_upper(t) {
            Some(u) => u,
            None => {
                return invalid_request(format!(
                    "The `pagination_token` query parameter value [{t}] is not valid"
                ))
            }
        },
    };
    let fields: Vec<&str> = query
        .get("tweet.fields")
        .map(|f| f.split(',').collect())
        .unwrap_or_default();
    let expand_authors = query
        .get("expansions")
        .is_some_and(|e| e.split(',').any(|x| x == "author_id"));
    let mut matching: Vec<&SimTweet> = if id == s.cfg.x_user_id {
        s.tweets
            .iter()
            .filter(|t| t.id > since && t.id < upper && t.id < until)
            .collect()
    } else {
        Vec::new()
    };
    matching.sort_by_key(|t| std::cmp::Reverse(t.id));
    let page: Vec<&SimTweet> = matching.iter().take(max_results as usize).copied().collect();
    let more = matching.len() > page.len();
    let data: Vec<Value> = page
        .iter()
        .map(|t| {
            let mut o = json!({"id": t.id.to_string(), "text": t.text, "edit_history_tweet_ids": [t.id.to_string()]});
            let mut set = |k: &str, v: Value| {
                if fields.contains(&k) {
                    o[k] = v;
                }
            };
            set("author_id", json!(t.author_id));
            set("created_at", json!(t.created_at));
            set("conversation_id", json!(t.conversation_id));
            if !t.referenced_tweets.is_empty() {
                set(
                    "referenced_tweets",
                    Value::Array(
                        t.referenced_tweets
                            .iter()
                            .map(|(k, id)| json!({"type": k, "id": id}))
                            .collect(),
                    ),
                );
            }
            if let Some(u) = &t.in_reply_to_user_id {
                set("in_reply_to_user_id", json!(u));
            }
            o
        })
        .collect();
    let mut body = json!({});
    let mut meta = json!({"result_count": data.len()});
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        meta["newest_id"] = json!(first.id.to_string());
        meta["oldest_id"] = json!(last.id.to_string());
        if more {
            meta["next_token"] = json!(token_for(last.id));
        }
    }
    if !data.is_empty() {
        if expand_authors {
            let mut users: HashMap<&str, Value> = HashMap::new();
            for t in &page {
                users.entry(t.author_id.as_str()).or_insert_with(
                    || json!({"id": t.author_id, "name": t.author_name, "username": t.author_username}),
                );
            }
            body["includes"] = json!({"users": users.into_values().collect::<Vec<_>>()});
        }
        body["data"] = Value::Array(data);
    }
    body["meta"] = meta;
    (StatusCode::OK, Json(body)).into_response()
}

/// An injected failure for the next send, if any.
fn injected(s: &mut Inner) -> Option<Response> {
    let (status, body) = s.fail_sends.pop_front()?;
    Some(
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        )
            .into_response(),
    )
}

async fn create_tweet(State(inner): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut s = inner.lock();
    if !bearer_ok(&headers, &s.cfg.x_user_token) {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    if let Some(r) = injected(&mut s) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return invalid_request("Request body is not valid JSON".into());
    };
    let text = v["text"].as_str().unwrap_or("");
    if text.is_empty() || text.chars().count() > 280 {
        return invalid_request("text must be 1–280 characters".into());
    }
    if let Some(r) = v.get("reply") {
        if r["in_reply_to_tweet_id"]
            .as_str()
            .is_none_or(|t| t.parse::<u64>().is_err())
        {
            return invalid_request("reply.in_reply_to_tweet_id is not a tweet id".into());
        }
    }
    s.next_id += 1_000_003;
    let id = s.next_id.to_string();
    s.sent.push(Sent {
        platform: "x".into(),
        path: "/2/tweets".into(),
        body: v.clone(),
    });
    (
        StatusCode::CREATED,
        Json(json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}})),
    )
        .into_response()
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "SimTrace"}})),
    )
        .into_response()
}

async fn graph_send(
    State(inner): State<Shared>,
    Path((version, node)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut s = inner.lock();
    if !bearer_ok(&headers, &s.cfg.graph_token) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    if !version.starts_with('v') {
        return graph_error(StatusCode::BAD_REQUEST, 2500, "Unknown path components");
    }
    if let Some(r) = injected(&mut s) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(StatusCode::BAD_REQUEST, 100, "Invalid parameter");
    };
    let path = format!("/{version}/{node}/messages");
    if node == "me" {
        let ok = v["recipient"]["id"].as_str().is_some_and(|r| !r.is_empty())
            && v["message"]["text"].as_str().is_some_and(|t| !t.is_empty())
            && v["messaging_type"].is_string();
        if !ok {
            return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter");
        }
        let recipient = v["recipient"]["id"].clone();
        s.sent.push(Sent {
            platform: "messenger".into(),
            path,
            body: v,
        });
        let n = s.sent.len();
        return Json(json!({"recipient_id": recipient, "message_id": format!("m_sim{n}")})).into_response();
    }
    let ok = v["messaging_product"] == "whatsapp"
        && v["to"].as_str().is_some_and(|t| !t.is_empty())
        && v["type"] == "text"
        && v["text"]["body"].as_str().is_some_and(|t| !t.is_empty());
    if !ok || !node.bytes().all(|b| b.is_ascii_digit()) {
        return graph_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter");
    }
    let to = v["to"].clone();
    s.sent.push(Sent {
        platform: "whatsapp".into(),
        path,
        body: v,
    });
    let n = s.sent.len();
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": format!("wamid.SIM{n}")}]
    }))
    .into_response()
}

fn telegram_error(status: StatusCode, description: &str) -> Response {
    (
        status,
        Json(json!({"ok": false, "error_code": status.as_u16(), "description": description})),
    )
        .into_response()
}

async fn telegram_send(State(inner): State<Shared>, Path(bot): Path<String>, body: axum::body::Bytes) -> Response {
    let mut s = inner.lock();
    let token_ok = match (&s.cfg.telegram_token, bot.strip_prefix("bot")) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(t), Some(p)) => pintu_channels::auth::secret_eq(p.as_bytes(), t.as_bytes()),
    };
    if !token_ok {
        return telegram_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if let Some(r) = injected(&mut s) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return telegram_error(StatusCode::BAD_REQUEST, "Bad Request: invalid JSON");
    };
    let chat_id = v["chat_id"].clone();
    if chat_id.is_null() {
        return telegram_error(StatusCode::BAD_REQUEST, "Bad Request: chat_id is empty");
    }
    if v["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
        return telegram_error(StatusCode::BAD_REQUEST, "Bad Request: message text is empty");
    }
    let text = v["text"].clone();
    s.sent.push(Sent {
        platform: "telegram".into(),
        path: "/bot<token>/sendMessage".into(),
        body: v,
    });
    let n = s.sent.len();
    Json(json!({"ok": true, "result": {
        "message_id": n, "date": now_epoch() as u64, "chat": {"id": chat_id, "type": "private"}, "text": text
    }}))
    .into_response()
}

async fn sent_list(State(inner): State<Shared>) -> Json<Vec<Sent>> {
    Json(inner.lock().sent.clone())
}

async fn requests_list(State(inner): State<Shared>) -> Json<Vec<MentionsRequest>> {
    Json(inner.lock().requests.clone())
}

async fn add_mention_http(State(inner): State<Shared>, Json(tweet): Json<SimTweet>) -> Json<Value> {
    let id = add_tweet(&inner, tweet);
    Json(json!({"id": id}))
}
