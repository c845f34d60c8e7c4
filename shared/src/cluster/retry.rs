//! Retries of read requests the API server could not serve just now, as a tower layer under the
//! kube-rs client: 429 Too Many Requests and 500/502/503/504, for GET and HEAD only, with
//! exponential backoff, honouring `Retry-After` (API Priority and Fairness sends it).
//!
//! kube-rs's own policy is made for controllers (15 retries, waits up to 1000 s, any `Retry-After`);
//! a command an operator waits on gives up sooner: a few retries within seconds, and a
//! `Retry-After` longer than [`MAX_WAIT`] is reported at once rather than slept through.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use tower::BoxError;
use tower::retry::Policy;

/// The longest wait between two attempts, whether from the backoff or from `Retry-After`.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(10);

/// One request's retry state (tower clones the policy for every request).
#[derive(Clone, Debug)]
pub(super) struct ApiRetry {
    attempt: u32,
    max_retries: u32,
    base: Duration,
}

impl Default for ApiRetry {
    fn default() -> Self {
        ApiRetry { attempt: 0, max_retries: 4, base: Duration::from_millis(250) }
    }
}

impl ApiRetry {
    /// How long to wait before retrying a response, or `None` to hand it to the caller.
    fn wait(&self, method: &Method, status: StatusCode, retry_after: Option<&str>) -> Option<Duration> {
        let idempotent = matches!(*method, Method::GET | Method::HEAD);
        let transient = matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504);
        if !idempotent || !transient || self.attempt >= self.max_retries {
            return None;
        }
        match retry_after.and_then(crate::duration::parse_retry_after) {
            Some(asked) if asked > MAX_WAIT => None,
            Some(asked) => Some(asked),
            None => Some(crate::duration::backoff(self.base, self.attempt, MAX_WAIT)),
        }
    }
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for ApiRetry {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, req: &mut Request<Body>, result: &mut Result<Response<B>, BoxError>) -> Option<Self::Future> {
        let response = result.as_ref().ok()?;
        let retry_after = response.headers().get(http::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
        let wait = self.wait(req.method(), response.status(), retry_after)?;
        self.attempt += 1;
        tracing::info!(
            "{} {} answered {}, retrying in {wait:?} (attempt {} of {})",
            req.method(),
            req.uri().path(),
            response.status(),
            self.attempt + 1,
            self.max_retries + 1
        );
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return None;
        }
        let mut copy = Request::new(req.body().try_clone()?);
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_retried_and_how_long_it_waits() {
        let fresh = ApiRetry::default();
        let ms = |n| Some(Duration::from_millis(n));
        let cases: &[(Method, u16, Option<&str>, Option<Duration>)] = &[
            (Method::GET, 429, Some("2"), Some(Duration::from_secs(2))),
            (Method::GET, 429, None, ms(250)),
            (Method::GET, 500, None, ms(250)),
            (Method::GET, 502, None, ms(250)),
            (Method::GET, 503, Some("1"), Some(Duration::from_secs(1))),
            (Method::GET, 504, None, ms(250)),
            (Method::HEAD, 503, None, ms(250)),
            (Method::GET, 429, Some("3600"), None),
            (Method::GET, 429, Some("soon"), ms(250)),
            (Method::GET, 403, None, None),
            (Method::GET, 404, None, None),
            (Method::GET, 410, None, None),
            (Method::GET, 501, None, None),
            (Method::POST, 503, None, None),
            (Method::PATCH, 500, None, None),
            (Method::DELETE, 429, Some("1"), None),
        ];
        for (method, status, retry_after, want) in cases {
            let status = StatusCode::from_u16(*status).unwrap();
            let got = fresh.wait(method, status, *retry_after);
            match (got, want) {
                // A computed backoff has ±25 % jitter; a Retry-After is taken as asked.
                (Some(got), Some(want)) if retry_after.is_none_or(|r| r.parse::<u64>().is_err()) => {
                    assert!(within_jitter(got, *want), "{method} {status} {retry_after:?}: {got:?}");
                }
                _ => assert_eq!(got, *want, "{method} {status} {retry_after:?}"),
            }
        }
    }

    #[test]
    fn backoff_doubles_and_gives_up() {
        let mut p = ApiRetry::default();
        let mut waits = Vec::new();
        while let Some(w) = p.wait(&Method::GET, StatusCode::SERVICE_UNAVAILABLE, None) {
            waits.push(w.as_millis());
            p.attempt += 1;
        }
        assert_eq!(waits.len(), 4, "four retries, then the answer is the caller's");
        for (got, want) in waits.iter().zip([250, 500, 1000, 2000]) {
            assert!(within_jitter(Duration::from_millis(*got as u64), Duration::from_millis(want)), "{waits:?}");
        }
    }

    fn within_jitter(got: Duration, want: Duration) -> bool {
        got >= want.mul_f64(0.75).saturating_sub(Duration::from_millis(1))
            && got <= want.mul_f64(1.25) + Duration::from_millis(1)
    }
}
