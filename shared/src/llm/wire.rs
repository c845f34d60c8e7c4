//! One HTTP exchange with a model server, timed the way slow servers need.
//!
//! A CPU server may read a long prompt for minutes before its first byte, then answer a token at a
//! time. A single read timeout either throws such an answer away (and starts it over) or waits
//! minutes for a server that died mid-answer. So the exchange runs on a thread of its own and the
//! caller reads it through [`Exchange`], which times the wait for the first byte of the body
//! (`first_byte`) apart from the silence between bytes once it flows (`between`), both bounded by the
//! question's deadline — which keep-alive comments do not move. While the server reads the prompt,
//! the caller's [`Progress`] is told how long it has waited.

use std::io::Read;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use crate::progress::Progress;

/// What the thread hands over.
enum Piece {
    Head { status: u16, retry_after: Option<Duration>, content_type: String },
    Bytes(Vec<u8>),
    End,
    Failed(ureq::Error),
    FailedRead(std::io::Error),
}

/// How long to wait.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timing {
    /// For the first byte of the answer's body (the server reading the prompt).
    pub first_byte: Duration,
    /// Between bytes, once the answer flows.
    pub between: Duration,
    /// The question's deadline, if any.
    pub deadline: Option<Instant>,
}

/// Why an exchange failed before or while it was read.
pub(super) enum Broken {
    /// No byte in time: (which wait, how long it was).
    Silent(&'static str, Duration),
    /// The question's deadline passed (whatever the server sent meanwhile: keep-alives too).
    Deadline,
    /// ureq's error sending the request or receiving the head.
    Request(ureq::Error),
    /// The connection failed while the body was read.
    Read(std::io::Error),
}

/// An answer being received.
pub(super) struct Exchange<'p> {
    rx: Receiver<Piece>,
    timing: Timing,
    started: Instant,
    flowing: bool,
    buffer: Vec<u8>,
    at: usize,
    done: bool,
    broken: Option<Broken>,
    progress: &'p dyn Progress,
    waiting_for: String,
    told: bool,
}

/// The head of the answer.
pub(super) struct Head {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub content_type: String,
}

/// Sends `request` with `body` on a thread of its own; the answer is read through the result.
pub(super) fn send<'p>(
    request: ureq::RequestBuilder<ureq::typestate::WithBody>,
    body: Vec<u8>,
    timing: Timing,
    progress: &'p dyn Progress,
    waiting_for: String,
) -> Exchange<'p> {
    let (tx, rx) = sync_channel(8);
    std::thread::Builder::new()
        .name("model-request".into())
        .spawn(move || transfer(request, body, &tx))
        .map_err(|e| tracing::warn!("cannot start the model request's thread: {e}"))
        .ok();
    Exchange {
        rx,
        timing,
        started: Instant::now(),
        flowing: false,
        buffer: Vec::new(),
        at: 0,
        done: false,
        broken: None,
        progress,
        waiting_for,
        told: false,
    }
}

fn transfer(request: ureq::RequestBuilder<ureq::typestate::WithBody>, body: Vec<u8>, tx: &SyncSender<Piece>) {
    let response = match request.send(body) {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Piece::Failed(e));
            return;
        }
    };
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let head = Piece::Head {
        status: response.status().as_u16(),
        retry_after: header("retry-after").as_deref().and_then(crate::duration::parse_retry_after),
        content_type: header("content-type").unwrap_or_default(),
    };
    if tx.send(head).is_err() {
        return;
    }
    let mut reader = response.into_body().into_reader();
    loop {
        let mut chunk = vec![0; 16 * 1024];
        let piece = match reader.read(&mut chunk) {
            Ok(0) => Piece::End,
            Ok(n) => {
                chunk.truncate(n);
                Piece::Bytes(chunk)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Piece::FailedRead(e),
        };
        let last = !matches!(piece, Piece::Bytes(_));
        // The reader gave up (a timeout, an answer not needed any more): stop reading.
        if tx.send(piece).is_err() || last {
            return;
        }
    }
}

impl Exchange<'_> {
    /// Waits for the next piece within the time the current stage allows, telling the progress
    /// how long the server has been silent while it reads the prompt.
    fn next(&mut self) -> Result<Piece, Broken> {
        let asked = Instant::now();
        loop {
            let (stage, limit) = if self.flowing {
                ("between bytes", self.timing.between)
            } else {
                ("first byte", self.timing.first_byte)
            };
            // The first byte is awaited from the start, every later one from when it is asked for.
            let since = if self.flowing { asked } else { self.started };
            let mut until = since + limit;
            if let Some(deadline) = self.timing.deadline {
                until = until.min(deadline);
            }
            let now = Instant::now();
            if self.timing.deadline.is_some_and(|d| now >= d) {
                self.stop_telling();
                return Err(Broken::Deadline);
            }
            if now >= until {
                self.stop_telling();
                return Err(Broken::Silent(stage, limit));
            }
            // Tick once a second while waiting for the first byte, after two quiet seconds.
            let tick = if self.flowing { until - now } else { (until - now).min(Duration::from_secs(1)) };
            match self.rx.recv_timeout(tick) {
                Ok(piece) => return Ok(piece),
                Err(RecvTimeoutError::Timeout) => {
                    let waited = self.started.elapsed();
                    if !self.flowing && waited >= Duration::from_secs(2) {
                        self.told = true;
                        self.progress.waiting(&self.waiting_for, Some(waited));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Broken::Read(std::io::Error::other("the request's thread ended")));
                }
            }
        }
    }

    fn stop_telling(&mut self) {
        if self.told {
            self.told = false;
            self.progress.waiting(&self.waiting_for, None);
        }
    }

    /// The status line and headers.
    pub(super) fn head(&mut self) -> Result<Head, Broken> {
        loop {
            match self.next()? {
                Piece::Head { status, retry_after, content_type } => {
                    return Ok(Head { status, retry_after, content_type });
                }
                Piece::Failed(e) => {
                    self.stop_telling();
                    return Err(Broken::Request(e));
                }
                Piece::FailedRead(e) => return Err(Broken::Read(e)),
                Piece::Bytes(_) | Piece::End => {}
            }
        }
    }

    /// Why reading stopped with an error, if it did.
    pub(super) fn broken(&mut self) -> Option<Broken> {
        self.broken.take()
    }
}

impl Read for Exchange<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.buffer.len() {
            if self.done {
                return Ok(0);
            }
            match self.next() {
                Ok(Piece::Bytes(b)) => {
                    self.flowing = true;
                    self.stop_telling();
                    self.buffer = b;
                    self.at = 0;
                }
                Ok(Piece::End) => {
                    self.stop_telling();
                    self.done = true;
                }
                Ok(Piece::FailedRead(e)) => {
                    let text = e.to_string();
                    self.broken = Some(Broken::Read(e));
                    return Err(std::io::Error::other(text));
                }
                Ok(Piece::Head { .. } | Piece::Failed(_)) => {}
                Err(broken) => {
                    let kind = match broken {
                        Broken::Silent(..) | Broken::Deadline => std::io::ErrorKind::TimedOut,
                        _ => std::io::ErrorKind::Other,
                    };
                    self.broken = Some(broken);
                    return Err(std::io::Error::new(kind, "the model server went silent"));
                }
            }
        }
        let n = out.len().min(self.buffer.len() - self.at);
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        self.stop_telling();
    }
}
