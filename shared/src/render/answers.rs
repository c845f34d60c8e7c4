//! What the model-backed verbs print: a diagnosis (or its evidence alone), an explanation of piped
//! input, exec's answer.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::json;

use super::{Format, json};
use crate::explain::diagnose::{Diagnosis, Evidence};
use crate::explain::pipe::InputReport;

/// The evidence of a diagnosis when no model is configured: every section under its title, then
/// how to configure a model — or, as JSON, the object, its findings and the sections.
pub fn evidence(out: &mut dyn Write, evidence: &Evidence, format: Format, how_to_configure: &str) -> io::Result<()> {
    if format == Format::Json {
        let sections: Vec<_> = evidence.sections.iter().map(|s| json!({"title": s.title, "text": s.text})).collect();
        let doc =
            json!({"object": evidence.object, "findings": evidence.findings, "diagnosis": null, "evidence": sections});
        return json(out, &doc);
    }
    writeln!(out, "Evidence about {} {}\n", evidence.object.kind, evidence.object_name())?;
    for s in &evidence.sections {
        writeln!(out, "## {}\n{}\n", s.title, s.text.trim_end())?;
    }
    writeln!(out, "No model is configured, so this is the evidence only. For a diagnosis: {how_to_configure}")
}

/// The heading printed above a diagnosis as it streams in (a blank line follows it).
pub fn diagnosis_heading(evidence: &Evidence) -> String {
    format!("Diagnosis of {} {}\n", evidence.object.kind, evidence.object_name())
}

/// A diagnosis as JSON: the object, its findings, the answer in its four sections.
pub fn diagnosis_json(out: &mut dyn Write, evidence: &Evidence, answer: &str, trimmed: bool) -> io::Result<()> {
    let doc = json!({
        "object": evidence.object,
        "findings": evidence.findings,
        "diagnosis": Diagnosis::from_markdown(answer),
        "trimmed": trimmed,
    });
    json(out, &doc)
}

/// The explanation of piped input as JSON.
pub fn input_json(out: &mut dyn Write, report: &InputReport) -> io::Result<()> {
    json(out, report)
}

/// exec's answer: markdown rendered for a terminal, as it is when piped.
pub fn answer(out: &mut dyn Write, answer: &str, terminal: bool) -> io::Result<()> {
    if terminal {
        let skin = termimad::MadSkin::default();
        write!(out, "{}", skin.term_text(answer))
    } else {
        writeln!(out, "{}", answer.trim_end())
    }
}

/// Any serializable result as JSON (exec's answer with its steps).
pub fn serialized(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    json(out, value)
}
