//! The one async runtime of the process, hidden from callers.
//!
//! kube-rs is async; everything else in OpsAgent (analyzers, the model client) is blocking. A single
//! current-thread tokio runtime is created on first use and every cluster call goes through
//! [`block_on`]. Calls never nest: library code that is already async awaits directly.

use std::future::Future;
use std::sync::OnceLock;

use crate::error::Error;

static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();

/// Runs a future to completion on the shared runtime.
pub(crate) fn block_on<F: Future>(future: F) -> Result<F::Output, Error> {
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
    });
    match runtime {
        Ok(rt) => Ok(rt.block_on(future)),
        Err(e) => Err(Error::api(e.clone())),
    }
}
