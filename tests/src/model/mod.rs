//! `fake-model`: an OpenAI / Azure OpenAI / Ollama compatible server with scripted replies that
//! records every request, so tests assert exactly what would have been sent to a provider.
//!
//! The script (JSON or YAML) is a list of replies used in order, the last one repeating; a reply
//! with `match` is used whenever the request body contains that text, before the sequence:
//!
//! ```yaml
//! replies:
//!   - {status: 429, retry_after: 1}          # then…
//!   - {content: "<think>hm</think>```json\n{\"cause\": \"x\"}\n```"}
//!   - {match: "logs", content: "log answer"}
//!   - {echo: true}                           # answers with the last user message
//!   - {delay_ms: 60000}                      # hangs
//!   - {content: "partial", stream_cut: true} # a stream that stops before its end
//!   - {choices: false}                       # `"choices": []`
//!   - {raw: "not json"}
//!   - {content: "slow", chunk_delay_ms: 500}  # a pause between streamed pieces
//!   - {keepalive_ms: 200}                    # a stream of `: keep-alive` comments, never an answer
//!   - {content: "half", stream_error: "…"}   # `data: {"error": …}` inside a 200 stream
//!   - {empty: true}                          # a 200 answer with nothing in it
//!   - {tool_calls: […], repeat_name: true}   # streamed calls: arguments in pieces, the name in each
//!   - {content: "x", usage: [1000, 200]}     # the tokens reported (default 10 sent, 5 answered)
//!   - {content: "x", usage: false}           # no usage reported
//! window: 4096          # requests over it are rejected as llama.cpp does (3 characters a token)
//! endpoints:            # GET/POST answers besides the chat routes (`/props`, `/v1/models`, `/api/show`)
//!   /props: {default_generation_settings: {n_ctx: 4096}}
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// One scripted reply.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scripted {
    #[serde(rename = "match")]
    pub matches: Option<String>,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub retry_after: Option<u64>,
    pub delay_ms: Option<u64>,
    pub content: Option<String>,
    pub echo: Option<bool>,
    pub finish_reason: Option<String>,
    pub stream_cut: Option<bool>,
    pub choices: Option<bool>,
    pub raw: Option<String>,
    pub tool_calls: Option<Value>,
    pub chunk_delay_ms: Option<u64>,
    pub keepalive_ms: Option<u64>,
    pub stream_error: Option<String>,
    pub empty: Option<bool>,
    pub repeat_name: Option<bool>,
    /// `[sent, answered]` reported, or `false` for none (default `[10, 5]`).
    pub usage: Option<Value>,
}

impl Scripted {
    /// The tokens reported: (sent, answered), or none.
    fn reported(&self) -> Option<(u64, u64)> {
        match &self.usage {
            None => Some((10, 5)),
            Some(Value::Array(pair)) if pair.len() == 2 => {
                Some((pair[0].as_u64().unwrap_or(0), pair[1].as_u64().unwrap_or(0)))
            }
            Some(_) => None,
        }
    }

    /// OpenAI's `usage` object, or null.
    fn usage_object(&self) -> Value {
        match self.reported() {
            Some((p, c)) => json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}),
            None => Value::Null,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    #[serde(default)]
    pub replies: Vec<Scripted>,
    /// The server's window: a chat request over it (3 characters a token, more than o200k counts,
    /// as Qwen's tokenizer does) is rejected with llama.cpp's 400.
    pub window: Option<usize>,
    /// Answers of other routes, by path.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Value>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: std::net::SocketAddr,
    pub script: Script,
    pub record: Option<PathBuf>,
    pub tls: bool,
    pub ca_out: Option<PathBuf>,
}

struct State {
    script: Script,
    next: Mutex<usize>,
    record: Option<Mutex<std::fs::File>>,
}

pub fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let tls = if config.tls { Some(crate::fixture::tls::generate()?) } else { None };
    if let (Some(path), Some(t)) = (&config.ca_out, &tls) {
        std::fs::write(path, &t.ca_pem).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let record = match &config.record {
        Some(p) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => None,
    };
    let state = Arc::new(State { script: config.script, next: Mutex::new(0), record });
    let acceptor = tls.map(|t| t.acceptor);
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready {}://{addr}", if acceptor.is_some() { "https" } else { "http" })?;
        out.flush()?;
    }
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req));
            let builder = hyper::server::conn::http1::Builder::new();
            match acceptor {
                Some(a) => {
                    if let Ok(s) = a.accept(stream).await {
                        let _ = builder.serve_connection(TokioIo::new(s), service).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                }
            }
        });
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let request: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if let Some(file) = &state.record {
        let headers: BTreeMap<String, String> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let line = json!({"method": parts.method.as_str(), "path": parts.uri.path(), "query": parts.uri.query(), "headers": headers, "body": request});
        let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "{line}");
        let _ = f.flush();
    }
    let path = parts.uri.path();
    if !(path.ends_with("/chat/completions") || path.ends_with("/api/chat")) {
        return Ok(match state.script.endpoints.get(path) {
            Some(v) => full(200, "application/json", v.to_string()),
            None => full(404, "application/json", json!({"error": "not found"}).to_string()),
        });
    }
    if let Some(window) = state.script.window {
        let chars: usize = request["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m["content"].as_str().map_or(0, |c| c.chars().count()) + 12)
            .sum();
        let tokens = chars / 3;
        let answer = request["max_tokens"].as_u64().unwrap_or(0) as usize;
        if tokens + answer > window {
            let message = format!(
                "request ({tokens} tokens) exceeds the available context size ({window} tokens), try increasing it"
            );
            return Ok(full(400, "application/json", json!({"error": {"code": 400, "message": message, "type": "exceed_context_size_error", "n_prompt_tokens": tokens, "n_ctx": window}}).to_string()));
        }
    }
    let reply = pick(&state, &text);
    if let Some(ms) = reply.delay_ms {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let ollama = parts.uri.path().ends_with("/api/chat");
    Ok(respond(&reply, &request, ollama))
}

fn pick(state: &State, body: &str) -> Scripted {
    if let Some(r) = state.script.replies.iter().find(|r| r.matches.as_deref().is_some_and(|m| body.contains(m))) {
        return r.clone();
    }
    let sequence: Vec<&Scripted> = state.script.replies.iter().filter(|r| r.matches.is_none()).collect();
    let mut next = state.next.lock().unwrap_or_else(|e| e.into_inner());
    let reply = sequence.get((*next).min(sequence.len().saturating_sub(1))).map(|r| (*r).clone()).unwrap_or_default();
    *next += 1;
    reply
}

fn respond(reply: &Scripted, request: &Value, ollama: bool) -> Response<Body> {
    let status = reply.status.unwrap_or(200);
    if status >= 400 {
        let message = reply.error.clone().unwrap_or_else(|| format!("scripted error {status}"));
        let body =
            if ollama { json!({"error": message}) } else { json!({"error": {"message": message, "type": "scripted"}}) };
        let mut resp = full(status, "application/json", body.to_string());
        if let Some(secs) = reply.retry_after
            && let Ok(v) = hyper::header::HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    if let Some(raw) = &reply.raw {
        return full(200, "application/json", raw.clone());
    }
    let stream = request["stream"].as_bool() == Some(true);
    if reply.empty == Some(true) {
        return if stream {
            streamed("text/event-stream", Vec::new(), 0)
        } else {
            full(200, "application/json", String::new())
        };
    }
    if let (Some(every), true) = (reply.keepalive_ms, stream) {
        let comments = futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(std::time::Duration::from_millis(every)).await;
            Some((Ok::<_, Infallible>(Frame::data(Bytes::from_static(b": keep-alive\n\n"))), ()))
        });
        let mut resp = Response::new(StreamBody::new(comments).boxed_unsync());
        resp.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("text/event-stream"));
        return resp;
    }
    let content = if reply.echo == Some(true) {
        request["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or_default()
            .to_string()
    } else {
        reply.content.clone().unwrap_or_else(|| "ok".into())
    };
    let finish = reply.finish_reason.clone().unwrap_or_else(|| "stop".into());
    let pause = reply.chunk_delay_ms.unwrap_or(0);
    let model = request["model"].as_str().unwrap_or("fake").to_string();
    match (ollama, stream) {
        (true, false) => {
            let mut answer = json!({"model": model, "message": ollama_message(&content, reply.tool_calls.as_ref()), "done": true, "done_reason": finish});
            if let Some((p, c)) = reply.reported() {
                answer["prompt_eval_count"] = json!(p);
                answer["eval_count"] = json!(c);
            }
            full(200, "application/json", answer.to_string())
        }
        (true, true) => {
            let mut lines: Vec<String> = chunks(&content)
                .map(|c| {
                    json!({"model": model, "message": {"role": "assistant", "content": c}, "done": false}).to_string()
                })
                .collect();
            // Ollama sends each tool call whole, in a line of its own.
            for call in reply.tool_calls.iter().flat_map(|c| c.as_array().cloned().unwrap_or_default()) {
                let mut function = call["function"].clone();
                if let Some(args) = function["arguments"].as_str() {
                    function["arguments"] = serde_json::from_str(args).unwrap_or(json!({}));
                }
                lines.push(json!({"model": model, "message": {"role": "assistant", "content": "", "tool_calls": [{"function": function}]}, "done": false}).to_string());
            }
            if let Some(error) = &reply.stream_error {
                lines.push(json!({"error": error}).to_string());
            } else if reply.stream_cut != Some(true) {
                let mut last = json!({"model": model, "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": finish});
                if let Some((p, c)) = reply.reported() {
                    last["prompt_eval_count"] = json!(p);
                    last["eval_count"] = json!(c);
                }
                lines.push(last.to_string());
            }
            streamed("application/x-ndjson", lines.into_iter().map(|l| l + "\n").collect(), pause)
        }
        (false, false) => {
            let mut message = json!({"role": "assistant", "content": content});
            if let Some(calls) = &reply.tool_calls {
                message["tool_calls"] = calls.clone();
            }
            let choices = if reply.choices == Some(false) {
                json!([])
            } else {
                json!([{"index": 0, "message": message, "finish_reason": finish}])
            };
            full(200, "application/json", json!({"id": "chatcmpl-fake", "object": "chat.completion", "model": model, "choices": choices, "usage": reply.usage_object()}).to_string())
        }
        (false, true) if reply.choices == Some(false) => streamed(
            "text/event-stream",
            vec![
                format!(
                    "data: {}\n\n",
                    json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": []})
                ),
                "data: [DONE]\n\n".into(),
            ],
            0,
        ),
        (false, true) => {
            let mut events: Vec<String> = chunks(&content)
                .map(|c| format!("data: {}\n\n", json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": c}, "finish_reason": null}]})))
                .collect();
            for (i, call) in reply.tool_calls.iter().flat_map(|c| c.as_array().cloned().unwrap_or_default()).enumerate()
            {
                let event = |part: Value| {
                    format!(
                        "data: {}\n\n",
                        json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": [part]}, "finish_reason": null}]})
                    )
                };
                if reply.repeat_name == Some(true) {
                    // As some servers do: the arguments in pieces, the whole name in every one.
                    let args = call["function"]["arguments"].as_str().unwrap_or_default().to_string();
                    for (k, piece) in chunks(&args).enumerate() {
                        let id = if k == 0 { call["id"].clone() } else { Value::Null };
                        events.push(event(json!({"index": i, "id": id, "type": "function", "function": {"name": call["function"]["name"], "arguments": piece}})));
                    }
                } else {
                    let mut part = call.clone();
                    part["index"] = json!(i);
                    events.push(event(part));
                }
            }
            if let Some(error) = &reply.stream_error {
                events.push(format!(
                    "data: {}\n\n",
                    json!({"error": {"message": error, "type": "server_error", "code": 500}})
                ));
            } else if reply.stream_cut != Some(true) {
                events.push(format!("data: {}\n\n", json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})));
                if request["stream_options"]["include_usage"] == true && reply.reported().is_some() {
                    events.push(format!("data: {}\n\n", json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [], "usage": reply.usage_object()})));
                }
                events.push("data: [DONE]\n\n".into());
            }
            streamed("text/event-stream", events, pause)
        }
    }
}

fn chunks(text: &str) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(8).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().into_iter()
}

fn full(status: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static(content_type));
    resp
}

/// Ollama's message, with its tool calls (arguments as objects).
fn ollama_message(content: &str, calls: Option<&Value>) -> Value {
    let mut message = json!({"role": "assistant", "content": content});
    if let Some(calls) = calls.and_then(Value::as_array) {
        let calls: Vec<Value> = calls
            .iter()
            .map(|c| {
                let mut function = c["function"].clone();
                if let Some(args) = function["arguments"].as_str() {
                    function["arguments"] = serde_json::from_str(args).unwrap_or(json!({}));
                }
                json!({"function": function})
            })
            .collect();
        message["tool_calls"] = json!(calls);
    }
    message
}

/// A streamed body, `pause_ms` between its pieces.
fn streamed(content_type: &'static str, pieces: Vec<String>, pause_ms: u64) -> Response<Body> {
    use futures::StreamExt as _;
    let stream = futures::stream::iter(pieces).then(move |p| async move {
        if pause_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        }
        Ok::<_, Infallible>(Frame::data(Bytes::from(p)))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed_unsync());
    resp.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static(content_type));
    resp
}
