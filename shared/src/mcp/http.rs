//! Streamable HTTP on `/mcp`, done safely: loopback unless TLS is configured, a bearer token on
//! every request (compared in constant time), Host and Origin checked against the listen address
//! (DNS rebinding, cross-site requests), a body size limit, a limit of requests in flight, and a
//! graceful end on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Limited;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::sync::Semaphore;
use tower::Service as _;

use super::server::Tools;
use super::{Listening, MAX_BODY, McpOptions};
use crate::error::Error;
use crate::gate::{Body, Listener, Names, authorities, plain, same, token};

/// The path the MCP endpoint is served on.
const PATH: &str = "/mcp";

/// Serves until SIGINT/SIGTERM.
pub(super) async fn serve(
    tools: Tools,
    addr: SocketAddr,
    options: &McpOptions,
    announce: &mut dyn FnMut(&Listening),
) -> Result<(), Error> {
    let listener = Listener::bind(addr, options.tls.as_ref(), "MCP").await?;
    let (token, generated) = token(options.token_file.as_deref())?;
    let (local, scheme) = (listener.local, listener.scheme());
    let cancel = tokio_util::sync::CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(MAX_BODY)
        .with_cancellation_token(cancel.clone());
    let (config, names) = match listener.leaf.clone() {
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

    listener
        .serve(cancel, move |request| {
            let gate = gate.clone();
            async move { gate.handle(request).await }
        })
        .await;
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
