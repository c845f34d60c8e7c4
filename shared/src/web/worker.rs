//! The thread that holds the exec session the page talks to: questions are asked there one at a
//! time, through the same agent, guard, approvals and change log as the terminal's; what happens is
//! sent to the page as events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::Error;
use crate::exec::{Approver, Change, Decision, Exec, ExecOptions, Observer, Running, Step, sessions};
use crate::llm::{ModelConfig, ModelOptions};
use crate::progress::Progress;

/// Where the events of the question being answered go: JSON texts, one per event.
pub(super) type Events = UnboundedSender<String>;

/// The longest a change waits for Approve or Reject before it is not run.
const APPROVAL_WAIT: Duration = Duration::from_secs(600);

/// Work for the session's thread.
enum Job {
    Ask { question: String, profile: Option<String>, events: Events },
    Resume { id: String, confirmed: bool, reply: mpsc::Sender<Result<Value, String>> },
    Reset { reply: mpsc::Sender<Value> },
}

/// The session's thread, as the server sees it.
pub(super) struct Worker {
    jobs: Mutex<mpsc::Sender<Job>>,
    decisions: Mutex<mpsc::Sender<(u64, bool)>>,
    /// A job holds the session (a question until its answer).
    busy: Arc<AtomicBool>,
    state: Arc<Mutex<Value>>,
}

/// Why a job was not taken.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// A question is being answered.
    Busy,
    /// The session's thread ended.
    Gone,
}

impl Worker {
    /// Starts the session (the model must be configured, kubectl on PATH, the cluster usable): an
    /// error here ends `--ui` before anything is served.
    pub(super) fn start(exec: ExecOptions, model: ModelConfig, choices: ModelOptions) -> Result<Arc<Worker>, Error> {
        let (jobs, jobs_in) = mpsc::channel();
        let (decisions, decisions_in) = mpsc::channel();
        let (started, started_in) = mpsc::channel();
        let state = Arc::new(Mutex::new(Value::Null));
        let busy = Arc::new(AtomicBool::new(false));
        let (shared, held) = (state.clone(), busy.clone());
        std::thread::Builder::new()
            .name("exec-ui".into())
            .spawn(move || {
                session(Setup {
                    exec,
                    model,
                    choices,
                    jobs: jobs_in,
                    decisions: decisions_in,
                    state: shared,
                    busy: held,
                    started,
                })
            })
            .map_err(|e| Error::Usage(format!("cannot start the session: {e}")))?;
        match started_in.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::Usage("the session ended before it started".into())),
        }
        Ok(Arc::new(Worker { jobs: Mutex::new(jobs), decisions: Mutex::new(decisions), busy, state }))
    }

    /// The session as the page shows it: context, namespace, server, model, session id.
    pub(super) fn state(&self) -> Value {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        state["busy"] = json!(self.busy.load(Ordering::SeqCst));
        state
    }

    fn send(&self, job: Job) -> Result<(), Refused> {
        let jobs = self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        jobs.send(job).map_err(|_| Refused::Gone)
    }

    /// Takes the session for one job, unless a question holds it.
    fn take(&self) -> Result<(), Refused> {
        self.busy
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .map(|_| ())
            .map_err(|_| Refused::Busy)
    }

    /// Asks a question, with `profile`'s model when given; its events go to `events`.
    pub(super) fn ask(&self, question: String, profile: Option<String>, events: Events) -> Result<(), Refused> {
        self.take()?;
        self.send(Job::Ask { question, profile, events }).inspect_err(|_| self.busy.store(false, Ordering::SeqCst))
    }

    /// The person's answer to approval `id`.
    pub(super) fn decide(&self, id: u64, yes: bool) -> Result<(), Refused> {
        let decisions = self.decisions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        decisions.send((id, yes)).map_err(|_| Refused::Gone)
    }

    /// Continues a saved session (one of another context only when `confirmed`).
    pub(super) fn resume(&self, id: String, confirmed: bool) -> Result<Result<Value, String>, Refused> {
        self.take()?;
        let (reply, answer) = mpsc::channel();
        let sent = self.send(Job::Resume { id, confirmed, reply });
        let result = sent.and_then(|()| answer.recv().map_err(|_| Refused::Gone));
        self.busy.store(false, Ordering::SeqCst);
        result
    }

    /// Starts a new conversation.
    pub(super) fn reset(&self) -> Result<Value, Refused> {
        self.take()?;
        let (reply, answer) = mpsc::channel();
        let sent = self.send(Job::Reset { reply });
        let result = sent.and_then(|()| answer.recv().map_err(|_| Refused::Gone));
        self.busy.store(false, Ordering::SeqCst);
        result
    }
}

/// Sends one event to the page, if one listens.
fn emit(slot: &Mutex<Option<Events>>, event: Value) -> bool {
    let slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    slot.as_ref().is_some_and(|events| events.send(event.to_string()).is_ok())
}

/// Approvals on the page: the parsed command, context, server and namespace, then Approve or
/// Reject. Nobody listening (the page went away) or no answer in time: not run.
struct PageApprover {
    slot: Arc<Mutex<Option<Events>>>,
    decisions: mpsc::Receiver<(u64, bool)>,
    next: u64,
}

impl PageApprover {
    /// Whether the page that asked the question stopped listening.
    fn gone(&self) -> bool {
        let slot = self.slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.as_ref().is_none_or(|events| events.is_closed())
    }
}

impl Approver for PageApprover {
    fn approve(&mut self, change: &Change<'_>) -> Decision {
        self.next += 1;
        let id = self.next;
        let asked = emit(
            &self.slot,
            json!({"type": "approval", "id": id, "command": change.command, "class": change.class,
                   "context": change.context, "server": change.server, "namespace": change.namespace}),
        );
        if !asked {
            return Decision::NoTerminal;
        }
        let asked_at = std::time::Instant::now();
        loop {
            match self.decisions.recv_timeout(Duration::from_secs(1)) {
                Ok((answered, yes)) if answered == id => return if yes { Decision::Yes } else { Decision::No },
                Ok(_) => continue, // an answer to an earlier question, too late
                // The page went away (its stream closed): nobody is left to click.
                Err(RecvTimeoutError::Timeout) if self.gone() => return Decision::NoTerminal,
                Err(RecvTimeoutError::Timeout) if asked_at.elapsed() >= APPROVAL_WAIT => {
                    let note = "no answer within 10 minutes: the change was not run";
                    emit(&self.slot, json!({"type": "note", "text": note}));
                    return Decision::No;
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Decision::NoTerminal,
            }
        }
    }

    fn running(&mut self, change: &Change<'_>) {
        emit(&self.slot, json!({"type": "running", "command": change.command, "namespace": change.namespace}));
    }
}

/// Notices (a retry, an answer cut at its limit) as events.
struct PageProgress {
    slot: Arc<Mutex<Option<Events>>>,
}

impl Progress for PageProgress {
    fn warn(&self, message: &str) {
        emit(&self.slot, json!({"type": "warning", "text": message}));
    }

    fn note(&self, message: &str) {
        emit(&self.slot, json!({"type": "note", "text": message}));
    }
}

/// Thoughts and tool calls as they happen, with what each gave the model.
struct PageObserver<'e> {
    events: &'e Events,
    started: std::time::Instant,
}

impl Observer for PageObserver<'_> {
    fn thought(&mut self, text: &str) {
        let _ = self.events.send(json!({"type": "thought", "text": text}).to_string());
    }

    fn wants_text(&self) -> bool {
        true
    }

    fn text(&mut self, piece: &str) {
        let _ = self.events.send(json!({"type": "text", "text": piece}).to_string());
    }

    fn result(&mut self, step: &Step, output: &str) {
        let ms = self.started.elapsed().as_millis() as u64;
        // The markers the cap and the redaction gate leave in what the model got.
        let capped = output.contains("-token limit for one result.]") || output.contains(" lines cut …]");
        let redacted = output.contains(crate::llm::redact::MASK);
        let event =
            json!({"type": "tool", "step": step, "output": output, "atMs": ms, "capped": capped, "redacted": redacted});
        let _ = self.events.send(event.to_string());
        self.started = std::time::Instant::now();
    }
}

/// What the session's thread starts from, and the ends of its channels.
struct Setup {
    exec: ExecOptions,
    model: ModelConfig,
    choices: ModelOptions,
    jobs: mpsc::Receiver<Job>,
    decisions: mpsc::Receiver<(u64, bool)>,
    state: Arc<Mutex<Value>>,
    busy: Arc<AtomicBool>,
    started: mpsc::Sender<Result<(), Error>>,
}

/// The session's thread: starts the session, then serves jobs until the server ends.
fn session(setup: Setup) {
    let Setup { exec, model, choices, jobs, decisions, state, busy, started } = setup;
    let slot: Arc<Mutex<Option<Events>>> = Arc::new(Mutex::new(None));
    let mut approver = PageApprover { slot: slot.clone(), decisions, next: 0 };
    let progress = PageProgress { slot: slot.clone() };
    let yes = exec.yes;
    let mut running = match Exec::prepare(&exec, model, false).and_then(|e| e.start(&mut approver, &progress)) {
        Ok(r) => r,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let mut profile = choices.profile.clone();
    let publish = |running: &Running<'_>, profile: &Option<String>| {
        let (context, namespace, server) = running.place();
        let m = running.model();
        let value = json!({"context": context, "namespace": namespace, "server": server,
            "model": {"provider": m.provider.id(), "model": m.model, "toolCalling": m.tool_calling, "contextWindow": m.context_window},
            "profile": profile, "session": running.session_id(), "readOnly": exec.read_only || m.read_only, "yes": yes});
        *state.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = value;
    };
    publish(&running, &profile);
    let _ = started.send(Ok(()));
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Ask { question, profile: wanted, events } => {
                *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(events.clone());
                let switched = match wanted.filter(|w| Some(w) != profile.as_ref()) {
                    Some(name) => switch(&mut running, &choices, &name).map(|()| profile = Some(name)),
                    None => Ok(()),
                };
                publish(&running, &profile);
                let _ = events.send(json!({"type": "state", "state": state_of(&state)}).to_string());
                let outcome = switched.and_then(|()| {
                    let mut observer = PageObserver { events: &events, started: std::time::Instant::now() };
                    running.ask(&question, &mut observer)
                });
                let event = match outcome {
                    Ok(answer) => json!({"type": "answer", "answer": answer}),
                    Err(e) => json!({"type": "error", "message": crate::error::one_line(&e), "exit": e.exit().code()}),
                };
                *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                publish(&running, &profile);
                // Free before the answer is out: the page may ask again as soon as it has it.
                busy.store(false, Ordering::SeqCst);
                let _ = events.send(event.to_string());
            }
            Job::Resume { id, confirmed, reply } => {
                let result = sessions::load(Some(&id)).map_err(|e| e.to_string()).and_then(|saved| {
                    if let Some((context, _)) = running.elsewhere(&saved)
                        && !confirmed
                    {
                        return Err(format!(
                            "session {} worked on context {context}: confirm to continue it here",
                            saved.id
                        ));
                    }
                    let questions = saved.questions.clone();
                    let messages = saved.messages.clone();
                    running.resume(saved);
                    Ok(json!({"questions": questions, "messages": messages}))
                });
                publish(&running, &profile);
                let _ = reply.send(result);
            }
            Job::Reset { reply } => {
                running.reset();
                publish(&running, &profile);
                let _ = reply.send(state_of(&state));
            }
        }
    }
}

fn state_of(state: &Mutex<Value>) -> Value {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// Answers the next questions with profile `name`.
fn switch(running: &mut Running<'_>, choices: &ModelOptions, name: &str) -> Result<(), Error> {
    let options = ModelOptions {
        profile: Some(name.to_string()),
        provider: None,
        model: None,
        base_url: None,
        ..choices.clone()
    };
    let mut model = ModelConfig::resolve(&options)?;
    model.plugin = "exec";
    model.learn_window(true);
    running.use_model(model)
}
