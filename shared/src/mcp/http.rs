//! Streamable HTTP on `/mcp`, done safely: loopback unless TLS is configured, a bearer token on
//! every request (compared in constant time), Host and Origin checked against the listen address
//! (DNS rebinding, cross-site requests), a body size limit, a limit of requests in flight, and a
//! graceful end on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Limited;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::sync::Semaphore;
use tower::Service as _;

use super::server::Tools;
use super::{Listening, MAX_BODY, McpOptions};
use crate::error::Error;
use crate::gate::{Body, Names, authorities, plain, same, serve_connection, shutdown_signal, tls, token};

/// The path the MCP endpoint is served on.
const PATH: &str = "/mcp";

/// Serves until SIGINT/SIGTERM.
pub(super) async fn serve(
    tools: Tools,
    addr: SocketAddr,
    options: &McpOptions,
    announce: &mut dyn FnMut(&Listening),
) -> Result<(), Error> {
    let (acceptor, leaf) = match &options.tls {
        Some((cert, key)) => {
            let (acceptor, leaf) = tls(cert, key)?;
            (Some(acceptor), Some(leaf))
        }
        None if !addr.ip().is_loopback() => {
            return Err(Error::Usage(format!(
                "--listen {addr} is beyond this machine: serving MCP there needs --tls-cert and --tls-key (or listen on 127.0.0.1)"
            )));
        }
        None => (None, None),
    };
    let (token, generated) = token(options.token_file.as_deref())?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Usage(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| Error::Usage(format!("cannot listen on {addr}: {e}")))?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let cancel = tokio_util::sync::CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(MAX_BODY)
        .with_cancellation_token(cancel.clone());
    let (config, names) = match leaf {
        Some(cert) if !local.ip().is_loopback() => {
            (config.disable_allowed_hosts().disable_allowed_origins(), Names::Certified { cert, port: local.port() })
        }
        _ => {
            let (hosts, origins) = authorities(local, scheme);
            let config = config.with_allowed_hosts(hosts).with_allowed_origins(origins).enforce_origin_validation();
            (config, Names::Listed)
        }
    };
    let service = StreamableHttpService::new(move || Ok(tools.clone()), LocalSessionManager::default().into(), config);
    let gate = Arc::new(Gate { token, names, slots: Arc::new(Semaphore::new(options.max_requests.max(1))), service });
    announce(&Listening { url: format!("{scheme}://{local}{PATH}"), token: generated.then(|| gate.token.clone()) });

    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let stream = tokio::select! {
            () = shutdown_signal() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Answers are written in several pieces (SSE events): without this, Nagle's
                    // algorithm and the client's delayed ACK add ~40 ms to each.
                    let _ = stream.set_nodelay(true);
                    stream
                }
                Err(e) => { tracing::warn!("accept: {e}"); continue; }
            },
        };
        let gate = gate.clone();
        let acceptor = acceptor.clone();
        let cancel = cancel.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let gate = gate.clone();
                async move { Ok::<_, std::convert::Infallible>(gate.handle(request).await) }
            });
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => serve_connection(TokioIo::new(tls), service, &cancel).await,
                    Err(e) => Err(e.to_string()),
                },
                None => serve_connection(TokioIo::new(stream), service, &cancel).await,
            };
            if let Err(e) = result {
                tracing::debug!("connection: {e}");
            }
        });
    }
    cancel.cancel();
    connections.close();
    // In-flight calls get a moment to finish; open streams end with the cancellation.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), connections.wait()).await;
    Ok(())
}

/// What every request passes before the MCP service sees it.
struct Gate {
    token: String,
    names: Names,
    slots: Arc<Semaphore>,
    service: StreamableHttpService<Tools, LocalSessionManager>,
}

impl Gate {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if request.uri().path() != PATH {
            return plain(StatusCode::NOT_FOUND, "not found: the MCP endpoint is /mcp");
        }
        let presented = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same(presented.as_bytes(), self.token.as_bytes()) {
            let mut response = plain(StatusCode::UNAUTHORIZED, "a bearer token is required (Authorization: Bearer …)");
            response.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
            return response;
        }
        let header = |name: http::HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
        let named = header(http::header::HOST).is_some_and(|h| self.names.host(h))
            && header(http::header::ORIGIN).is_none_or(|o| self.names.origin(o));
        if !named {
            return plain(StatusCode::FORBIDDEN, "the Host or Origin of this request does not name this server");
        }
        let too_big = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > MAX_BODY);
        if too_big {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "the request is larger than 1 MiB");
        }
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many requests in flight: retry shortly");
        };
        let request = request.map(|body| Limited::new(body, MAX_BODY));
        let mut service = self.service.clone();
        match service.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}
