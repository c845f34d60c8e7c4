//! The usage ledger (`kubectl ai exec --usage`): tokens and estimated cost per day, plugin, profile
//! and model.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::Format;
use crate::llm::budget::{Row, Spend};

/// What `--usage -o json` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Usage<'a> {
    ledger: &'a Path,
    days: i32,
    rows: &'a [Row],
    total: &'a Spend,
}

/// Prints the rows of the last `days` days and their total: a table, or JSON.
pub fn ledger(
    out: &mut dyn Write,
    path: &Path,
    days: i32,
    rows: &[Row],
    total: &Spend,
    format: Format,
) -> io::Result<()> {
    if format == Format::Json {
        return super::answers::serialized(out, &Usage { ledger: path, days, rows, total });
    }
    if rows.is_empty() {
        return writeln!(out, "no model calls in the last {days} days (ledger: {})", path.display());
    }
    let mut lines: Vec<[String; 8]> = vec![[
        "DAY".into(),
        "PLUGIN".into(),
        "PROFILE".into(),
        "MODEL".into(),
        "CALLS".into(),
        "SENT".into(),
        "ANSWERED".into(),
        "COST (EST.)".into(),
    ]];
    let cells = |spend: &Spend| {
        let mark = if spend.counted_calls > 0 { "*" } else { "" };
        [
            spend.calls.to_string(),
            format!("{}{mark}", spend.prompt_tokens),
            format!("{}{mark}", spend.completion_tokens),
            spend.cost.map_or_else(|| "?".to_string(), crate::llm::budget::dollars),
        ]
    };
    for r in rows {
        let [calls, sent, answered, cost] = cells(&r.spend);
        let profile = if r.profile.is_empty() { "-".to_string() } else { r.profile.clone() };
        lines.push([r.day.clone(), r.plugin.clone(), profile, r.model.clone(), calls, sent, answered, cost]);
    }
    let [calls, sent, answered, cost] = cells(total);
    lines.push([
        format!("total, last {days} days"),
        String::new(),
        String::new(),
        String::new(),
        calls,
        sent,
        answered,
        cost,
    ]);
    let widths: Vec<usize> = (0..8).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    for line in &lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            match i {
                0..=3 => text.push_str(&format!("{cell}{}  ", " ".repeat(pad))),
                _ => text.push_str(&format!("{}{cell}  ", " ".repeat(pad))),
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    if rows.iter().any(|r| r.spend.counted_calls > 0) {
        writeln!(out, "* some calls' tokens were counted by opsagent: the provider reported none")?;
    }
    if rows.iter().any(|r| r.spend.cost.is_none()) {
        writeln!(out, "? no price is known for the model: add it to [prices] in the config file")?;
    }
    writeln!(out, "ledger: {}", path.display())
}
