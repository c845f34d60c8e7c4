//! Spending caps and the local usage ledger.
//!
//! Every model call the [`Client`](super::Client) makes is metered: the tokens the provider reports
//! (counted by us, and marked as counted, when it reports none) and their estimated cost at the
//! model's price. The meter is asked before every call, so a cap stops a question or run before the
//! call that would begin past it: what is spent goes beyond a cap by at most the one call that
//! crossed it.
//!
//! The ledger, `<XDG state dir>/opsagent/usage.json` (`$OPSAGENT_USAGE`), keeps one row per local
//! day, plugin, profile, provider and model, for [`KEEP_DAYS`] days. Processes running at once
//! (a watch, an exec session) update it in turn under a lock, each update written atomically.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::client::Usage;
use super::config::{ModelConfig, Price};
use crate::error::Error;

/// The days the ledger keeps.
pub const KEEP_DAYS: i32 = 400;

/// What one question (exec) or one run (the other plugins) may spend, and a profile's day.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Caps {
    /// Tokens, sent and answered together (`--max-tokens`).
    pub max_tokens: Option<u64>,
    /// Estimated US dollars (`--max-cost`).
    pub max_cost: Option<f64>,
    /// Estimated US dollars the profile may spend in a local day (`max_cost_per_day`).
    pub max_cost_per_day: Option<f64>,
}

impl Caps {
    /// Whether any cap is set.
    pub fn is_set(&self) -> bool {
        *self != Caps::default()
    }

    /// Whether any cap needs a price to be kept.
    fn need_price(&self) -> bool {
        self.max_cost.is_some() || self.max_cost_per_day.is_some()
    }
}

/// What was spent: calls, tokens and their estimated cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spend {
    /// Model calls answered.
    pub calls: u64,
    /// Tokens sent.
    pub prompt_tokens: u64,
    /// Tokens answered.
    pub completion_tokens: u64,
    /// Calls whose tokens the provider did not report, counted by us.
    #[serde(default)]
    pub counted_calls: u64,
    /// Estimated US dollars; none when no price is known for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

impl Spend {
    /// Tokens sent and answered.
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    fn add(&mut self, other: &Spend) {
        self.calls += other.calls;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.counted_calls += other.counted_calls;
        self.cost = match (self.cost, other.cost) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
    }
}

/// One row of the ledger: a day's spending by one plugin on one profile's model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// `analyze`, `audit`, `gen` or `exec`.
    pub plugin: String,
    /// The profile of the config file, empty when none was used.
    #[serde(default)]
    pub profile: String,
    /// `openai`, `azure`, `ollama`.
    pub provider: String,
    /// The model.
    pub model: String,
    /// What it spent.
    #[serde(flatten)]
    pub spend: Spend,
}

impl Row {
    fn same_key(&self, other: &Row) -> bool {
        (&self.day, &self.plugin, &self.profile, &self.provider, &self.model)
            == (&other.day, &other.plugin, &other.profile, &other.provider, &other.model)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    rows: Vec<Row>,
}

/// The local usage ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    path: PathBuf,
}

/// Today, in the local time zone: `YYYY-MM-DD`.
pub fn today() -> String {
    jiff::Zoned::now().date().to_string()
}

impl Ledger {
    /// The ledger at `$OPSAGENT_USAGE`, else `<XDG state dir>/opsagent/usage.json`.
    pub fn default_place() -> Option<Ledger> {
        if let Some(p) = std::env::var_os("OPSAGENT_USAGE").filter(|p| !p.is_empty()) {
            return Some(Ledger { path: PathBuf::from(p) });
        }
        use etcetera::BaseStrategy as _;
        let strategy = etcetera::choose_base_strategy().ok()?;
        let dir = strategy.state_dir().unwrap_or_else(|| strategy.data_dir());
        Some(Ledger { path: dir.join("opsagent").join("usage.json") })
    }

    /// The ledger in `path`.
    pub fn at(path: impl Into<PathBuf>) -> Ledger {
        Ledger { path: path.into() }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every row, oldest day first; none when nothing was recorded yet.
    pub fn rows(&self) -> Result<Vec<Row>, Error> {
        Ok(self.read()?.rows)
    }

    fn read(&self) -> Result<File, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::input(self.path.display(), format!("is not a usage ledger ({e}): move it away to start afresh"))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File { version: 1, rows: Vec::new() }),
            Err(e) => Err(Error::input(self.path.display(), e)),
        }
    }

    /// The estimated cost `profile` has spent on `day`, every plugin and model together.
    pub fn cost_on(&self, day: &str, profile: &str) -> Result<f64, Error> {
        Ok(self.rows()?.iter().filter(|r| r.day == day && r.profile == profile).filter_map(|r| r.spend.cost).sum())
    }

    /// Adds `row`'s spending to its day's row, under a lock, and drops days older than
    /// [`KEEP_DAYS`]. The file is replaced atomically (0600).
    pub fn add(&self, row: &Row) -> Result<(), Error> {
        let failed = |source: std::io::Error| Error::Write { path: self.path.clone(), source };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(failed)?;
        lock.lock().map_err(failed)?;
        let mut file = self.read()?;
        match file.rows.iter_mut().find(|r| r.same_key(row)) {
            Some(r) => r.spend.add(&row.spend),
            None => file.rows.push(row.clone()),
        }
        let oldest = jiff::Zoned::now().date().checked_sub(jiff::Span::new().days(KEEP_DAYS)).ok();
        if let Some(oldest) = oldest.map(|d| d.to_string()) {
            file.rows.retain(|r| r.day >= oldest);
        }
        file.rows
            .sort_by(|a, b| (&a.day, &a.plugin, &a.profile, &a.model).cmp(&(&b.day, &b.plugin, &b.profile, &b.model)));
        file.version = 1;
        let written = crate::files::write_atomic(&self.path, |w| {
            serde_json::to_writer_pretty(w, &file).map_err(std::io::Error::other)
        });
        let _ = lock.unlock();
        written
    }
}

/// The rows of the last `days` days (today included), and their total.
pub fn recent(rows: &[Row], days: i32) -> (Vec<Row>, Spend) {
    let since = jiff::Zoned::now().date().checked_sub(jiff::Span::new().days(days.saturating_sub(1).max(0))).ok();
    let since = since.map(|d| d.to_string()).unwrap_or_default();
    let kept: Vec<Row> = rows.iter().filter(|r| r.day >= since).cloned().collect();
    let mut total = Spend::default();
    kept.iter().for_each(|r| total.add(&r.spend));
    (kept, total)
}

/// The estimated cost of `usage` at `price`.
pub fn cost(usage: &Usage, price: &Price) -> f64 {
    (usage.prompt_tokens as f64 * price.input + usage.completion_tokens as f64 * price.output) / 1_000_000.0
}

/// The meter of one client: what the current question (or run) spent, checked against the caps
/// before every call and written to the ledger after it.
#[derive(Debug)]
pub(crate) struct Meter {
    caps: Caps,
    price: Option<Price>,
    key: Row,
    ledger: Option<Ledger>,
    /// "question" (exec) or "run".
    unit: &'static str,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The current question's (or run's) spending.
    spent: Spend,
    /// Today's cost not in the ledger (it could not be written).
    unrecorded: f64,
    /// The cap that stopped this question, once one did.
    stopped: Option<String>,
    /// Whether the ledger's failure was told.
    told: bool,
}

/// An estimate in dollars: cents from one dollar up, a hundredth of a cent below (and said to be
/// below it when smaller, never rounded to nothing).
pub fn dollars(x: f64) -> String {
    match x {
        x if x >= 1.0 => format!("${x:.2}"),
        0.0 => "$0".to_string(),
        x if x < 0.0001 => "<$0.0001".to_string(),
        x => format!("${x:.4}"),
    }
}

impl Meter {
    /// The meter for `config`: an error when a cost cap is set and no price is known for the model.
    pub(crate) fn new(config: &ModelConfig) -> Result<Meter, Error> {
        let price = super::tokens::price(config.provider, &config.model, &config.prices);
        if config.caps.need_price() && price.is_none() {
            return Err(Error::Usage(format!(
                "no price is known for model {:?}, so a cost cap (--max-cost, max_cost_per_day) cannot be kept: add it to [prices] in the config file (docs/configuration.md)",
                config.model
            )));
        }
        Ok(Meter {
            caps: config.caps,
            price,
            key: Row {
                day: String::new(),
                plugin: config.plugin.to_string(),
                profile: config.profile.clone().unwrap_or_default(),
                provider: config.provider.id().to_string(),
                model: config.model.clone(),
                spend: Spend::default(),
            },
            ledger: Ledger::default_place(),
            unit: if config.plugin == "exec" { "question" } else { "run" },
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new question: nothing spent on it yet.
    pub(crate) fn begin(&self) {
        let mut state = self.state();
        state.spent = Spend::default();
        state.stopped = None;
    }

    /// What the current question (or run) spent.
    pub(crate) fn spent(&self) -> Spend {
        self.state().spent
    }

    /// The cap that stopped the current question (or run), if one did.
    pub(crate) fn stopped(&self) -> Option<String> {
        self.state().stopped.clone()
    }

    /// Whether another call may be made; the error says which cap was reached.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let mut state = self.state();
        if let Some(message) = &state.stopped {
            return Err(Error::Budget(message.clone()));
        }
        let spent = state.spent;
        let calls = match spent.calls {
            1 => "1 model call".to_string(),
            n => format!("{n} model calls"),
        };
        let mut reached = None;
        if let Some(max) = self.caps.max_tokens
            && spent.tokens() >= max
        {
            reached = Some(format!(
                "stopped: this {} used {} tokens in {calls}, reaching --max-tokens {max}",
                self.unit,
                spent.tokens()
            ));
        }
        if reached.is_none()
            && let Some(max) = self.caps.max_cost
            && spent.cost.unwrap_or(0.0) >= max
        {
            reached = Some(format!(
                "stopped: this {} cost an estimated {} in {calls}, reaching --max-cost {max}",
                self.unit,
                dollars(spent.cost.unwrap_or(0.0))
            ));
        }
        if reached.is_none()
            && let Some(max) = self.caps.max_cost_per_day
        {
            let recorded = match &self.ledger {
                Some(ledger) => ledger.cost_on(&today(), &self.key.profile).unwrap_or(0.0),
                None => 0.0,
            };
            let day = recorded + state.unrecorded;
            if day >= max {
                let profile = match self.key.profile.as_str() {
                    "" => "the default model".to_string(),
                    p => format!("profile {p:?}"),
                };
                reached = Some(format!(
                    "stopped: {profile} has spent an estimated {} today, reaching its max_cost_per_day {max}",
                    dollars(day)
                ));
            }
        }
        match reached {
            Some(message) => {
                state.stopped = Some(message.clone());
                Err(Error::Budget(message))
            }
            None => Ok(()),
        }
    }

    /// Records a call's tokens (`counted`: by us, the provider reported none), in the question's
    /// spending and the ledger. A ledger that cannot be written is a warning (once), returned.
    pub(crate) fn record(&self, usage: Usage, counted: bool) -> Option<String> {
        let spend = Spend {
            calls: 1,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            counted_calls: u64::from(counted),
            cost: self.price.as_ref().map(|p| cost(&usage, p)),
        };
        let mut state = self.state();
        state.spent.add(&spend);
        let row = Row { day: today(), spend, ..self.key.clone() };
        let failed = match &self.ledger {
            Some(ledger) => ledger.add(&row).err().map(|e| crate::error::one_line(&e)),
            None => Some("no directory for it: set XDG_STATE_HOME or OPSAGENT_USAGE".to_string()),
        };
        let failed = failed?;
        state.unrecorded += spend.cost.unwrap_or(0.0);
        if std::mem::replace(&mut state.told, true) {
            return None;
        }
        let place = self.ledger.as_ref().map(|l| l.path().display().to_string()).unwrap_or_default();
        Some(format!("the usage ledger {place} could not be updated ({failed}): today's cap counts this process only"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: &str, plugin: &str, cost: Option<f64>) -> Row {
        Row {
            day: day.into(),
            plugin: plugin.into(),
            profile: "p".into(),
            provider: "openai".into(),
            model: "m".into(),
            spend: Spend { calls: 1, prompt_tokens: 10, completion_tokens: 5, counted_calls: 0, cost },
        }
    }

    #[test]
    fn rows_of_a_day_plugin_profile_and_model_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::at(dir.path().join("sub/usage.json"));
        assert_eq!(ledger.rows().unwrap(), vec![]);
        let day = today();
        ledger.add(&row(&day, "exec", Some(0.5))).unwrap();
        ledger.add(&row(&day, "exec", Some(0.25))).unwrap();
        ledger.add(&row(&day, "gen", None)).unwrap();
        ledger.add(&row("2000-01-01", "exec", Some(9.0))).unwrap(); // past KEEP_DAYS: dropped
        let rows = ledger.rows().unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            rows[0].spend,
            Spend { calls: 2, prompt_tokens: 20, completion_tokens: 10, counted_calls: 0, cost: Some(0.75) }
        );
        assert_eq!(rows[1].spend.cost, None);
        assert_eq!(ledger.cost_on(&day, "p").unwrap(), 0.75);
        assert_eq!(ledger.cost_on(&day, "other").unwrap(), 0.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(ledger.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn writers_at_once_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.json");
        let day = today();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (path, day) = (&path, &day);
                scope.spawn(move || {
                    let ledger = Ledger::at(path);
                    for _ in 0..25 {
                        ledger.add(&row(day, if t % 2 == 0 { "exec" } else { "gen" }, Some(0.01))).unwrap();
                    }
                });
            }
        });
        let (_, total) = recent(&Ledger::at(&path).rows().unwrap(), 1);
        assert_eq!(total.calls, 100);
        assert_eq!(total.prompt_tokens, 1000);
    }

    #[test]
    fn a_ledger_that_is_not_one_is_an_error_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.json");
        std::fs::write(&path, "not json").unwrap();
        let ledger = Ledger::at(&path);
        let err = ledger.add(&row(&today(), "exec", None)).unwrap_err();
        assert!(err.to_string().contains("is not a usage ledger"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json");
    }

    #[test]
    fn recent_days_and_their_total() {
        let day = today();
        let rows = vec![row("2000-01-01", "exec", Some(1.0)), row(&day, "exec", Some(0.5)), row(&day, "gen", None)];
        let (kept, total) = recent(&rows, 30);
        assert_eq!(kept.len(), 2);
        assert_eq!(
            total,
            Spend { calls: 2, prompt_tokens: 20, completion_tokens: 10, counted_calls: 0, cost: Some(0.5) }
        );
    }

    #[test]
    fn costs_are_per_million_tokens() {
        let usage = Usage { prompt_tokens: 1_000_000, completion_tokens: 500_000 };
        assert_eq!(cost(&usage, &Price { input: 2.0, output: 8.0 }), 6.0);
        assert_eq!(dollars(0.00123), "$0.0012");
        assert_eq!(dollars(12.345), "$12.35");
        assert_eq!(dollars(0.0000045), "<$0.0001");
        assert_eq!(dollars(0.0), "$0");
    }
}
