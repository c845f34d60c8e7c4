//! `--metrics-addr`: `/metrics`, `/healthz`, `/readyz` and `/report` of a watch, over HTTP/1.1,
//! read-only (GET and HEAD), on a thread of its own so that a scrape is answered while a run works.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::Semaphore;

use super::Shared;
use super::metrics::Format;

/// Connections served at once; more wait for a slot.
const CONNECTIONS: usize = 64;

/// Serves until `stop` is cancelled; connections in flight then get a moment to finish.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: tokio_util::sync::CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { break };
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => { tracing::warn!("accept: {e}"); continue; }
            },
        };
        let shared = shared.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&shared, &request)) }
            });
            let connection = http1::Builder::new()
                .header_read_timeout(std::time::Duration::from_secs(10))
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!("connection: {e}");
            }
        });
    }
    connections.close();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), connections.wait()).await;
}

/// The answer to one request.
fn answer(shared: &Shared, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        r.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let state = shared.lock();
    match request.uri().path() {
        "/metrics" => {
            let accept = request.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok());
            let format = Format::negotiate(accept);
            let body = state.metrics.render(format);
            drop(state);
            respond(StatusCode::OK, format.content_type(), Bytes::from(body))
        }
        "/healthz" => plain(StatusCode::OK, "ok"),
        "/readyz" if state.stopping => plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
        "/readyz" if !state.metrics.ready() => plain(StatusCode::SERVICE_UNAVAILABLE, "no run has succeeded yet"),
        "/readyz" => plain(StatusCode::OK, "ready"),
        "/report" => match &state.report {
            Some(report) => respond(StatusCode::OK, "application/json", report.clone()),
            None => plain(StatusCode::SERVICE_UNAVAILABLE, "no run has succeeded yet"),
        },
        _ => plain(StatusCode::NOT_FOUND, "not found: /metrics, /healthz, /readyz, /report"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    respond(status, "text/plain; charset=utf-8", Bytes::from_static(text.as_bytes()))
}

fn respond(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", http::HeaderValue::from_static("nosniff"));
    response
}

/// `:9090` (every address, as Prometheus' own flags write it), `HOST:PORT` or `[V6]:PORT`.
pub(super) fn parse_addr(text: &str) -> Option<SocketAddr> {
    match text.strip_prefix(':') {
        Some(port) => port.parse::<u16>().ok().map(|p| SocketAddr::from(([0, 0, 0, 0], p))),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_like_prometheus_flags() {
        assert_eq!(parse_addr(":9090"), Some("0.0.0.0:9090".parse().unwrap()));
        assert_eq!(parse_addr("127.0.0.1:0"), Some("127.0.0.1:0".parse().unwrap()));
        assert_eq!(parse_addr("[::1]:9090"), Some("[::1]:9090".parse().unwrap()));
        assert_eq!(parse_addr("localhost"), None);
        assert_eq!(parse_addr(":http"), None);
        assert_eq!(parse_addr(":70000"), None);
    }
}
