//! One question, one answer: a diagnosis, an explanation of piped input. Streamed to the caller as
//! it arrives (reasoning left out), or whole when names were anonymized and must be put back first.

use crate::error::Error;
use crate::llm::redact::Anonymizer;
use crate::llm::reply::{ThinkFilter, strip_think};
use crate::llm::{ChatOptions, Client, Message};

/// A request for one answer.
#[derive(Clone, Debug)]
pub struct OneRequest {
    /// What it is, for a dry run (`diagnose Pod shop/web-1`).
    pub title: String,
    /// Redacted, and anonymized when `anonymizer` is set.
    pub messages: Vec<Message>,
    /// Whether evidence was cut to fit the window.
    pub trimmed: bool,
    /// The longest answer asked for, in tokens.
    pub max_answer: u32,
    /// With `--anonymize`: the placeholders to put back into the answer.
    pub anonymizer: Option<Anonymizer>,
}

impl OneRequest {
    /// The request as a dry run shows it.
    pub fn dry(&self) -> crate::render::dryrun::DryRequest<'_> {
        crate::render::dryrun::DryRequest {
            title: &self.title,
            messages: &self.messages,
            trimmed: self.trimmed,
            max_answer: self.max_answer,
        }
    }

    /// A request; with `anonymizer`, names in the messages are replaced by placeholders now.
    pub fn new(
        title: String,
        mut messages: Vec<Message>,
        trimmed: bool,
        max_answer: u32,
        mut anonymizer: Option<Anonymizer>,
    ) -> OneRequest {
        if let Some(a) = anonymizer.as_mut() {
            messages.iter_mut().for_each(|m| m.content = a.apply(&m.content));
        }
        OneRequest { title, messages, trimmed, max_answer, anonymizer }
    }
}

/// An answer, reasoning left out and names restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The answer.
    pub text: String,
    /// Whether it was handed to the caller's `on_text` as it arrived (else: only whole, here).
    pub streamed: bool,
}

/// Asks for one answer. With `on_text`, the visible text is handed over as it streams in — unless
/// names were anonymized: then the answer is only whole once they are restored.
pub fn ask_one(
    client: &Client<'_>,
    request: &OneRequest,
    on_text: Option<&mut dyn FnMut(&str)>,
) -> Result<Answer, Error> {
    let options = ChatOptions { max_tokens: request.max_answer, ..ChatOptions::default() };
    let restore = |text: String| match &request.anonymizer {
        Some(a) => a.restore(&text),
        None => text,
    };
    let on_text = on_text.filter(|_| request.anonymizer.is_none());
    let Some(show) = on_text else {
        let reply = client.chat(&request.messages, &options, None)?;
        return Ok(Answer { text: restore(strip_think(&reply.content)), streamed: false });
    };
    let mut filter = ThinkFilter::default();
    let mut pass = |delta: &str| {
        let visible = filter.push(delta);
        if !visible.is_empty() {
            show(&visible);
        }
    };
    let reply = client.chat(&request.messages, &options, Some(&mut pass))?;
    let rest = filter.finish();
    if !rest.is_empty() {
        show(&rest);
    }
    Ok(Answer { text: strip_think(&reply.content), streamed: true })
}
