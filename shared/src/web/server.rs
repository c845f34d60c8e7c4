//! The page's HTTP server: its own files, and the data API under `/api/`.
//!
//! Every request must name this server (Host; Origin when sent, and always on a POST: DNS
//! rebinding, cross-site requests). The page's files hold no data and are served to any such
//! request; everything under `/api/` needs the session cookie, which only `POST /api/login` with
//! the one-time token printed at start gives (HttpOnly, SameSite=Strict). Secrets are compared in
//! constant time; bodies are limited in size, requests in rate, questions to one at a time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::WebOptions;
use super::reports::Which;
use super::worker::{Refused, Worker};
use crate::error::Error;
use crate::gate::{Body, Listener, Names, authorities, same};

/// The largest request body: a question and its options.
const MAX_BODY: usize = 64 * 1024;
/// Requests answered per second, all together; more get 429.
const RATE: u32 = 50;
/// Requests without a valid session (or token) per minute before every such request gets 429.
const MAX_FAILED: u32 = 30;
/// The session cookie's name.
const COOKIE: &str = "opsagent_ui";

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// What no page of ours needs, refused: inline scripts and styles, other origins, frames, forms.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A counter over a fixed window.
struct Window {
    started: Instant,
    count: u32,
}

impl Window {
    fn new() -> Mutex<Window> {
        Mutex::new(Window { started: Instant::now(), count: 0 })
    }
}

/// Counts one more in `window` (of `length`); whether the count is still within `most`.
fn within(window: &Mutex<Window>, length: Duration, most: u32) -> bool {
    let mut w = window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if w.started.elapsed() >= length {
        *w = Window { started: Instant::now(), count: 0 };
    }
    w.count += 1;
    w.count <= most
}

struct Site {
    worker: Arc<Worker>,
    options: WebOptions,
    names: Names,
    hosts: Vec<String>,
    origins: Vec<String>,
    secure: bool,
    /// The one-time token; `None` once used.
    token: Mutex<Option<String>>,
    /// The session cookie's value, once someone logged in.
    session: Mutex<Option<String>>,
    rate: Mutex<Window>,
    failed: Mutex<Window>,
}

/// A random secret: 32 bytes in hex.
fn secret() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Usage("cannot generate a token: no system randomness".into()))?;
    Ok(crate::hex::hex(&bytes))
}

/// Serves until SIGINT/SIGTERM; `announce` gets the page's URL with the one-time token.
pub(super) async fn serve(
    worker: Arc<Worker>,
    options: WebOptions,
    announce: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    let listener = Listener::bind(options.listen, options.tls.as_ref(), "the page").await?;
    let (local, scheme) = (listener.local, listener.scheme());
    let (hosts, origins) = authorities(local, scheme);
    let names = match listener.leaf.clone() {
        Some(cert) if !local.ip().is_loopback() => Names::Certified { cert, port: local.port() },
        _ => Names::Listed,
    };
    let token = secret()?;
    let shown = if local.ip().is_unspecified() { format!("127.0.0.1:{}", local.port()) } else { local.to_string() };
    announce(&format!("{scheme}://{shown}/#token={token}"));
    let site = Arc::new(Site {
        worker,
        options,
        names,
        hosts,
        origins,
        secure: scheme == "https",
        token: Mutex::new(Some(token)),
        session: Mutex::new(None),
        rate: Window::new(),
        failed: Window::new(),
    });
    let cancel = tokio_util::sync::CancellationToken::new();
    listener
        .serve(cancel, move |request| {
            let site = site.clone();
            async move { site.handle(request).await }
        })
        .await;
    Ok(())
}

/// A response with the headers every answer carries.
fn respond(status: StatusCode, kind: &'static str, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn text(status: StatusCode, message: &str) -> Response<Body> {
    let body = json!({"error": message}).to_string();
    respond(status, "application/json", Full::new(Bytes::from(body)).boxed())
}

fn data(value: &Value) -> Response<Body> {
    respond(StatusCode::OK, "application/json", Full::new(Bytes::from(value.to_string())).boxed())
}

fn asset(kind: &'static str, content: &'static str) -> Response<Body> {
    respond(StatusCode::OK, kind, Full::new(Bytes::from_static(content.as_bytes())).boxed())
}

fn refused(why: Refused) -> Response<Body> {
    match why {
        Refused::Busy => text(StatusCode::CONFLICT, "a question is being answered: wait for its answer"),
        Refused::Gone => text(StatusCode::SERVICE_UNAVAILABLE, "the session ended: restart kubectl ai exec --ui"),
    }
}

impl Site {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if !within(&self.rate, Duration::from_secs(1), RATE) {
            return text(StatusCode::TOO_MANY_REQUESTS, "too many requests: slow down");
        }
        let header = |name: header::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
        let host_ok = header(header::HOST).is_some_and(|h| self.names.host(h) && self.listed(h, &self.hosts));
        let origin = header(header::ORIGIN);
        let origin_ok = origin.is_none_or(|o| self.names.origin(o) && self.listed(o, &self.origins));
        if !host_ok || !origin_ok {
            return text(StatusCode::FORBIDDEN, "the Host or Origin of this request does not name this server");
        }
        let path = request.uri().path().to_string();
        let method = request.method().clone();
        match (&method, path.as_str()) {
            (&Method::GET, "/") => return asset("text/html; charset=utf-8", INDEX),
            (&Method::GET, "/app.js") => return asset("text/javascript; charset=utf-8", SCRIPT),
            (&Method::GET, "/app.css") => return asset("text/css; charset=utf-8", STYLE),
            (_, p) if !p.starts_with("/api/") => return text(StatusCode::NOT_FOUND, "not found"),
            _ => {}
        }
        // A write must say where it comes from: browsers always send Origin with a POST.
        if method == Method::POST && origin.is_none() {
            return text(StatusCode::FORBIDDEN, "a POST must carry an Origin that names this server");
        }
        if path == "/api/login" && method == Method::POST {
            return self.login(&request);
        }
        if !self.authorized(&request) {
            if !within(&self.failed, Duration::from_secs(60), MAX_FAILED) {
                return text(StatusCode::TOO_MANY_REQUESTS, "too many requests without a session: wait a minute");
            }
            return text(StatusCode::UNAUTHORIZED, "no session: open the URL kubectl ai exec --ui printed");
        }
        let body = match read(request).await {
            Ok(b) => b,
            Err(response) => return response,
        };
        match (&method, path.as_str()) {
            (&Method::GET, "/api/state") => data(&self.worker.state()),
            (&Method::GET, "/api/profiles") => match crate::llm::profiles(self.options.choices.config.as_deref()) {
                Ok(p) => data(&json!(p)),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            },
            (&Method::GET, "/api/sessions") => {
                let (all, warnings) = crate::exec::sessions::list();
                let brief: Vec<Value> = all
                    .iter()
                    .take(50)
                    .map(|s| {
                        json!({"id": s.id, "updated": s.updated, "context": s.context, "namespace": s.namespace,
                               "model": s.model, "questions": s.questions})
                    })
                    .collect();
                data(&json!({"sessions": brief, "warnings": warnings}))
            }
            (&Method::GET, "/api/report/analyze") => self.report(Which::Analyze).await,
            (&Method::GET, "/api/report/audit") => self.report(Which::Audit).await,
            (&Method::POST, "/api/ask") => self.ask(&body),
            (&Method::POST, "/api/approve") => {
                let (Some(id), Some(yes)) = (body["id"].as_u64(), body["approve"].as_bool()) else {
                    return text(StatusCode::BAD_REQUEST, "expected {\"id\": N, \"approve\": true|false}");
                };
                match self.worker.decide(id, yes) {
                    Ok(()) => data(&json!({"ok": true})),
                    Err(why) => refused(why),
                }
            }
            (&Method::POST, "/api/resume") => {
                let Some(id) = body["id"].as_str() else {
                    return text(StatusCode::BAD_REQUEST, "expected {\"id\": \"SESSION\"}");
                };
                match self.worker.resume(id.to_string(), body["confirm"].as_bool() == Some(true)) {
                    Ok(Ok(value)) => data(&value),
                    Ok(Err(why)) => text(StatusCode::CONFLICT, &why),
                    Err(why) => refused(why),
                }
            }
            (&Method::POST, "/api/reset") => match self.worker.reset() {
                Ok(state) => data(&state),
                Err(why) => refused(why),
            },
            _ => text(StatusCode::NOT_FOUND, "not found"),
        }
    }

    /// Whether `value` (a Host, or an Origin) is one of `listed`; beyond loopback the certificate's
    /// names decide (checked by [`Names`]).
    fn listed(&self, value: &str, listed: &[String]) -> bool {
        matches!(self.names, Names::Certified { .. }) || listed.iter().any(|l| l == value)
    }

    /// The one-time token for the session cookie.
    fn login(&self, request: &Request<Incoming>) -> Response<Body> {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let mut token = self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let valid = token.as_deref().is_some_and(|t| same(presented.as_bytes(), t.as_bytes()));
        if !valid {
            drop(token);
            if !within(&self.failed, Duration::from_secs(60), MAX_FAILED) {
                return text(StatusCode::TOO_MANY_REQUESTS, "too many requests without a session: wait a minute");
            }
            return text(
                StatusCode::UNAUTHORIZED,
                "the token is wrong or was used: open the URL kubectl ai exec --ui printed",
            );
        }
        *token = None;
        let Ok(value) = secret() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "no system randomness");
        };
        *self.session.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value.clone());
        let secure = if self.secure { "; Secure" } else { "" };
        let mut response = data(&json!({"ok": true}));
        if let Ok(cookie) =
            HeaderValue::from_str(&format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/{secure}"))
        {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        response
    }

    /// Whether the request carries the session cookie.
    fn authorized(&self, request: &Request<Incoming>) -> bool {
        let session = self.session.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(session) = session.as_deref() else { return false };
        request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| name == COOKIE && same(value.as_bytes(), session.as_bytes()))
    }

    /// `GET /api/report/analyze|audit`: the report, run now on the session's cluster (on a thread
    /// of its own: the library runs its own runtime).
    async fn report(&self, which: Which) -> Response<Body> {
        let (done, result) = tokio::sync::oneshot::channel();
        let exec = self.options.exec.clone();
        let started = std::thread::Builder::new().name("exec-ui-report".into()).spawn(move || {
            let _ = done.send(super::reports::report(which, &exec));
        });
        if started.is_err() {
            return text(StatusCode::SERVICE_UNAVAILABLE, "cannot start the report");
        }
        match result.await {
            Ok(Ok(value)) => data(&value),
            Ok(Err(e)) => text(StatusCode::BAD_GATEWAY, &crate::error::one_line(&e)),
            Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the report ended without a result"),
        }
    }

    /// `POST /api/ask {question, profile?}`: the events of the answer as server-sent events.
    fn ask(&self, body: &Value) -> Response<Body> {
        let question = body["question"].as_str().unwrap_or("").trim().to_string();
        if question.is_empty() {
            return text(StatusCode::BAD_REQUEST, "expected {\"question\": \"…\"}");
        }
        let profile = body["profile"].as_str().filter(|p| !p.is_empty()).map(str::to_string);
        let (events, received) = tokio::sync::mpsc::unbounded_channel::<String>();
        if let Err(why) = self.worker.ask(question, profile, events) {
            return refused(why);
        }
        // The events as `data:` lines, ending when the question's channel closes.
        let stream = futures::stream::unfold(received, |mut received| async move {
            let event = received.recv().await?;
            let frame = Frame::data(Bytes::from(format!("data: {event}\n\n")));
            Some((Ok::<_, std::convert::Infallible>(frame), received))
        });
        let mut response = respond(StatusCode::OK, "text/event-stream", StreamBody::new(stream).boxed());
        response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
        response
    }
}

/// The request's JSON body (none is `null`), at most [`MAX_BODY`].
async fn read(request: Request<Incoming>) -> Result<Value, Response<Body>> {
    let too_big = || text(StatusCode::PAYLOAD_TOO_LARGE, "the request is larger than 64 KiB");
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_big());
    }
    let bytes = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(too_big()),
    };
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| text(StatusCode::BAD_REQUEST, &format!("not JSON: {e}")))
}
