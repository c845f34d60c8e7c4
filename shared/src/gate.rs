//! What every HTTP front end shares (MCP's streamable HTTP, the web page): the server's token,
//! TLS, the names a request must use (Host and Origin: DNS rebinding, cross-site requests),
//! constant-time comparison of secrets, one connection served with a graceful end, and the signals
//! that end a server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// A response body.
pub(crate) type Body = BoxBody<Bytes, std::convert::Infallible>;

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// The server's token: the file's first line, or 32 random bytes in hex (announced once).
pub(crate) fn token(file: Option<&Path>) -> Result<(String, bool), Error> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Input {
            name: path.display().to_string(),
            message: "cannot read".into(),
            source: Some(e),
        })?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.len() < 16 {
            return Err(Error::input(path.display(), "the token must be at least 16 characters on its first line"));
        }
        return Ok((token, false));
    }
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Usage("cannot generate a token: no system randomness".into()))?;
    Ok((crate::hex::hex(&bytes), true))
}

/// The TLS acceptor of `--tls-cert`/`--tls-key`, and the server's own certificate.
pub(crate) fn tls(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<(TlsAcceptor, CertificateDer<'static>), Error> {
    let bad = |path: &std::path::Path, what: &str| Error::input(path.display(), format!("not a PEM {what}"));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|_| bad(cert, "certificate"))?
        .collect::<Result<_, _>>()
        .map_err(|_| bad(cert, "certificate"))?;
    if chain.is_empty() {
        return Err(bad(cert, "certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|_| bad(key, "private key"))?;
    let leaf = chain[0].clone();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| Error::Usage(format!("--tls-cert/--tls-key cannot be used: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), leaf))
}

/// Who a request must name: on loopback, the listen address's own names; beyond it (always with
/// TLS), where the names clients use are not known here, the names the certificate is valid for.
pub(crate) enum Names {
    Listed,
    Certified { cert: CertificateDer<'static>, port: u16 },
}

impl Names {
    /// Whether `authority` (`host[:port]`, as in Host) names this server.
    pub(crate) fn host(&self, authority: &str) -> bool {
        match self {
            Names::Listed => true,
            Names::Certified { cert, port } => split_authority(authority)
                .is_some_and(|(host, given)| given.unwrap_or(443) == *port && certified(cert, host)),
        }
    }

    /// Whether an `Origin` header (`https://host[:port]`) is this server.
    pub(crate) fn origin(&self, origin: &str) -> bool {
        match self {
            Names::Listed => true,
            Names::Certified { .. } => origin.strip_prefix("https://").is_some_and(|a| self.host(a)),
        }
    }
}

/// `host` and its port, from `host[:port]` or `[v6]:port`; `None` when the port is not a number.
pub(crate) fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (host, tail) = rest.split_once(']')?;
            (host, if tail.is_empty() { None } else { Some(tail.strip_prefix(':')?) })
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    match port {
        Some(p) => Some((host, Some(p.parse().ok()?))),
        None => Some((host, None)),
    }
}

/// Whether the certificate is valid for `host` (a DNS name or an IP address).
pub(crate) fn certified(cert: &CertificateDer<'static>, host: &str) -> bool {
    let Ok(name) = tokio_rustls::rustls::pki_types::ServerName::try_from(host) else { return false };
    webpki::EndEntityCert::try_from(cert).is_ok_and(|c| c.verify_is_valid_for_subject_name(&name).is_ok())
}

/// The `Host` values (and browser origins) that name this server.
pub(crate) fn authorities(addr: SocketAddr, scheme: &str) -> (Vec<String>, Vec<String>) {
    let port = addr.port();
    let mut hosts = vec![addr.to_string()];
    if addr.ip().is_loopback() {
        hosts.extend([format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]);
    }
    hosts.sort();
    hosts.dedup();
    let origins = hosts.iter().map(|h| format!("{scheme}://{h}")).collect();
    (hosts, origins)
}

pub(crate) fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{text}\n"))).boxed());
    *response.status_mut() = status;
    response
}

/// A bound listener: TLS when configured (required beyond loopback).
pub(crate) struct Listener {
    listener: tokio::net::TcpListener,
    acceptor: Option<TlsAcceptor>,
    /// The server's own certificate, when it serves TLS.
    pub leaf: Option<CertificateDer<'static>>,
    /// The address it listens on (the port chosen when 0 was asked for).
    pub local: SocketAddr,
}

impl Listener {
    /// Binds `addr`; `tls` (a certificate chain and its key) is required beyond loopback, where
    /// `what` ("MCP", "the page") would be served.
    pub(crate) async fn bind(
        addr: SocketAddr,
        tls_files: Option<&(std::path::PathBuf, std::path::PathBuf)>,
        what: &str,
    ) -> Result<Listener, Error> {
        let (acceptor, leaf) = match tls_files {
            Some((cert, key)) => {
                let (acceptor, leaf) = tls(cert, key)?;
                (Some(acceptor), Some(leaf))
            }
            None if !addr.ip().is_loopback() => {
                return Err(Error::Usage(format!(
                    "--listen {addr} is beyond this machine: serving {what} there needs --tls-cert and --tls-key (or listen on 127.0.0.1)"
                )));
            }
            None => (None, None),
        };
        let failed = |e: std::io::Error| Error::Usage(format!("cannot listen on {addr}: {e}"));
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(failed)?;
        let local = listener.local_addr().map_err(failed)?;
        Ok(Listener { listener, acceptor, leaf, local })
    }

    /// `https` or `http`.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.acceptor.is_some() { "https" } else { "http" }
    }

    /// Serves every connection with `handle` until SIGINT/SIGTERM; then `cancel` ends what is still
    /// open, after in-flight requests had up to 5 seconds to finish.
    pub(crate) async fn serve<H, F>(self, cancel: tokio_util::sync::CancellationToken, handle: H)
    where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: std::future::Future<Output = Response<Body>> + Send + 'static,
    {
        let connections = tokio_util::task::TaskTracker::new();
        loop {
            let stream = tokio::select! {
                () = shutdown_signal() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        // Answers are written in several pieces (SSE events): without this, Nagle's
                        // algorithm and the client's delayed ACK add ~40 ms to each.
                        let _ = stream.set_nodelay(true);
                        stream
                    }
                    Err(e) => { tracing::warn!("accept: {e}"); continue; }
                },
            };
            let handle = handle.clone();
            let acceptor = self.acceptor.clone();
            let cancel = cancel.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let answer = handle(request);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
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
        // In-flight requests get a moment to finish; open streams end with the cancellation.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), connections.wait()).await;
    }
}

/// Serves one connection until it ends, or gracefully once `cancel` fires.
async fn serve_connection<I, S>(
    io: TokioIo<I>,
    service: S,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<(), String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    let connection = http1::Builder::new().serve_connection(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result.map_err(|e| e.to_string()),
        () = cancel.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await.map_err(|e| e.to_string())
        }
    }
}

/// Whether a presented token is the server's, in time that does not depend on where they differ:
/// their SHA-256 digests are compared whole.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (ring::digest::digest(&ring::digest::SHA256, a), ring::digest::digest(&ring::digest::SHA256, b));
    a.as_ref().iter().zip(b.as_ref()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abcdef", b"abcdef"));
        assert!(!same(b"abcdef", b"abcdeg"));
        assert!(!same(b"abc", b"abcdef"));
        assert!(!same(b"", b"x"));
    }

    #[test]
    fn authorities_split_like_host_headers() {
        assert_eq!(split_authority("mcp.example:8931"), Some(("mcp.example", Some(8931))));
        assert_eq!(split_authority("[::1]:443"), Some(("::1", Some(443))));
        assert_eq!(split_authority("[::1]"), Some(("::1", None)));
        assert_eq!(split_authority("mcp.example"), Some(("mcp.example", None)));
        assert_eq!(split_authority("mcp.example:x"), None);
        assert_eq!(split_authority("[::1]x"), None);
        assert_eq!(split_authority("[::1"), None);
    }

    #[test]
    fn loopback_names_itself_three_ways() {
        let (hosts, origins) = authorities("127.0.0.1:8080".parse().unwrap(), "http");
        assert!(hosts.contains(&"localhost:8080".to_string()));
        assert!(hosts.contains(&"[::1]:8080".to_string()));
        assert!(origins.contains(&"http://127.0.0.1:8080".to_string()));
        let (hosts, _) = authorities("10.0.0.5:443".parse().unwrap(), "https");
        assert_eq!(hosts, vec!["10.0.0.5:443".to_string()]);
    }
}
