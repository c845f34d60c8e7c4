//! `kubectl ai gen`: manifests from a prompt, validated, applied only on request.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use clap::Parser;

use super::input::{self, Over};
use super::terminal::Terminal;
use crate::cli::{self, ClusterArgs, LlmArgs, LogArgs, MANIFEST_FORMATS, one_of};
use crate::error::{Error, Exit};
use crate::generate::{self, Checked, GenOptions, MAX_ANSWER, Session, Target};
use crate::llm::Client;
use crate::llm::redact::MASK;
use crate::progress::Progress;
use crate::render::Format;
use crate::render::dryrun::{self, DryRequest};

const EXAMPLES: &str = r#"Examples:
  # Generate, look, then apply (asks first)
  kubectl ai gen "nginx deployment with 3 replicas behind a service" --apply

  # Straight into kubectl: only the YAML goes to stdout
  kubectl ai gen "a CronJob that prunes /tmp every night" | kubectl apply -f -

  # Change existing manifests: stdin is the base, fields not mentioned are kept
  kubectl get deploy web -n shop -o yaml |
    kubectl ai gen "add a readiness probe on /healthz" --output-file web.yaml

  # See the prompt and its tokens first; nothing is sent
  kubectl ai gen "redis with a 5Gi volume" --dry-run

  # For an agent: gen's validation as an MCP tool (validate_manifests)
  kubectl ai exec --mcp-server

Exit codes:
  0  valid manifests, written, printed or applied
  1  still invalid after the repairs, or an object the server refused to apply
  2  usage or input error
  3  the cluster could not be used (unreachable, credentials rejected)
  5  the model failed or is not configured
  8  a spending cap was reached (--max-tokens, --max-cost, max_cost_per_day)"#;

/// Generate Kubernetes manifests from a prompt.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "kubectl-ai-gen",
    bin_name = "kubectl ai gen",
    version,
    about = "Generate validated Kubernetes manifests from a prompt",
    long_about = "Generate Kubernetes manifests from a prompt. They are checked before anyone sees them: \
                  strict decoding (unknown fields, wrong types, missing required fields, each with its path), \
                  object rules, and a server-side dry run when a cluster is reachable; problems go back to the \
                  model for repair. Nothing is applied without --apply and a confirmation (or --yes).",
    after_help = EXAMPLES
)]
pub struct GenArgs {
    /// What to generate, or what to change in the manifests given on stdin
    #[arg(value_name = "PROMPT", num_args = 1.., required = true)]
    pub prompt: Vec<String>,

    /// How to reach the cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Output format of the manifests
    #[arg(short = 'o', long, value_parser = manifest_format(), default_value_t = Format::Yaml, help_heading = "Output")]
    pub output: Format,

    /// Write the manifests to FILE (atomically) instead of stdout
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub output_file: Option<PathBuf>,

    /// Print only the manifests, even on a terminal (no summary, no menu)
    #[arg(long, help_heading = "Output")]
    pub raw: bool,

    /// Apply the manifests (server-side apply, field manager kubectl-ai) after a confirmation
    #[arg(long, help_heading = "Apply")]
    pub apply: bool,

    /// Apply without asking
    #[arg(long, short = 'y', requires = "apply", help_heading = "Apply")]
    pub yes: bool,

    /// Do not read the cluster: no facts in the prompt, no server-side dry run
    #[arg(long, conflicts_with = "apply", help_heading = "Cluster")]
    pub no_cluster: bool,

    /// Repair rounds when validation fails
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=10), help_heading = "Model")]
    pub max_repairs: u8,

    /// The model.
    #[command(flatten)]
    pub llm: LlmArgs,

    /// Colors and logging.
    #[command(flatten)]
    pub log: LogArgs,
}

const NO_CONFIRMATION: &str = "--apply asks for a confirmation, and there is no terminal to ask on: add --yes to apply without asking; nothing was applied";
/// The most YAML read from stdin.
const MAX_BASE: u64 = 16 * 1024 * 1024;

/// Runs `kubectl ai gen`.
pub fn run(args: &GenArgs) -> anyhow::Result<Exit> {
    cli::no_cluster_hint(
        run_plugin(args),
        "give one with --kubeconfig FILE, or generate without a cluster with --no-cluster",
    )
}

fn run_plugin(args: &GenArgs) -> anyhow::Result<Exit> {
    let progress = Terminal::default();
    let prompt = args.prompt.join(" ");
    if prompt.trim().is_empty() {
        return Err(Error::Usage("the prompt is empty: say what to generate".into()).into());
    }
    if args.apply && !args.yes && !args.llm.dry_run && !can_prompt() {
        return Err(Error::Usage(NO_CONFIRMATION.into()).into());
    }
    let base = read_base()?;
    let model = args.llm.resolve("gen")?;
    let options = GenOptions {
        prompt,
        base,
        cluster: (!args.no_cluster).then(|| args.cluster.connect_options()),
        namespace: args.cluster.namespace.clone(),
        cluster_required: args.apply,
        max_repairs: args.max_repairs,
        instructions: model.instructions.clone(),
    };
    let mut session = Session::start(&options, &progress)?;
    let mut stdout = anstream::stdout().lock();
    if args.llm.dry_run {
        let dry = DryRequest { title: "generate", messages: &session.messages, trimmed: false, max_answer: MAX_ANSWER };
        dryrun::print(&mut stdout, &model, &[dry], 0, crate::render::Format::Text)?;
        return Ok(Exit::Clean);
    }
    let client = Client::for_use(model, "gen")?.reporting_to(&progress);
    let checked = session.generate(&client, &progress)?;
    if !checked.problems.is_empty() {
        return Ok(invalid(&checked, session.max_repairs()));
    }
    for line in &checked.unchecked {
        cli::warn(line);
    }
    for place in &checked.placeholders {
        cli::warn(format!("{place} is {MASK}: secret values are never sent to the model; put the real value in"));
    }
    warn_audit(&checked);
    let interactive = !args.raw && std::io::stdout().is_terminal() && can_prompt();
    if interactive && args.output_file.is_none() && args.output == Format::Yaml && !args.apply {
        return menu(&client, &mut session, checked, &progress);
    }
    finish(args, &checked, session.target.as_ref(), &progress, &mut stdout)
}

/// Writes, prints or applies valid manifests.
fn finish(
    args: &GenArgs,
    checked: &Checked,
    target: Option<&Target>,
    progress: &dyn Progress,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Exit> {
    if let Some(path) = &args.output_file {
        save(path, checked, args.output)?;
    } else if !args.apply {
        crate::render::manifests(out, &checked.yaml, &checked.documents, args.output)?;
        out.flush()?;
    }
    if args.apply {
        let target = target.ok_or_else(|| Error::Usage("--apply needs a cluster".into()))?;
        if !args.yes {
            if !can_prompt() {
                return Err(Error::Usage(NO_CONFIRMATION.into()).into());
            }
            if std::io::stdout().is_terminal() {
                print_highlighted(out, &checked.yaml)?;
            }
            show_summary(checked, target);
            let yes = dialoguer::Confirm::new().with_prompt("Apply?").default(false).interact().unwrap_or(false);
            if !yes {
                eprintln!("Nothing was applied.");
                return Ok(Exit::Clean);
            }
        }
        return apply(checked, target, progress, out);
    }
    Ok(Exit::Clean)
}

/// Reads the manifests to change from stdin, when something is piped in.
fn read_base() -> anyhow::Result<Option<(String, Vec<crate::snapshot::Document>)>> {
    if !input::piped() {
        return Ok(None);
    }
    let read = input::read(Path::new("-"), MAX_BASE, Over::Refuse("gen changes at most that much at once"))?;
    if read.lossy {
        return Err(Error::input("stdin", "not UTF-8").into());
    }
    if read.text.trim().is_empty() {
        return Ok(None);
    }
    let docs = crate::generate::manifest::parse(&read.text).map_err(|e| Error::input("stdin", e))?;
    if docs.is_empty() {
        return Ok(None);
    }
    Ok(Some((read.text, docs)))
}

/// Still invalid: the manifest and its problems on stderr (never on stdout, which may feed
/// `kubectl apply`), nothing written or applied.
fn invalid(checked: &Checked, repairs: u8) -> Exit {
    let mut err = anstream::stderr().lock();
    if !checked.yaml.is_empty() {
        let _ = writeln!(err, "{}", checked.yaml.trim_end());
        let _ = writeln!(err, "---");
    }
    for p in &checked.problems {
        let _ = writeln!(err, "problem: {p}");
    }
    if let Some(why) = &checked.capped {
        let _ = writeln!(
            err,
            "error: {why}; the manifests still have {} problem(s): nothing was written or applied",
            checked.problems.len()
        );
        return Exit::Budget;
    }
    let _ = writeln!(
        err,
        "error: the manifests are still invalid after {repairs} repair(s) ({} problem(s)); nothing was written or applied",
        checked.problems.len()
    );
    Exit::Problems
}

/// The audit's findings on valid manifests, as warnings (docs/generate.md).
fn warn_audit(checked: &Checked) {
    for line in generate::audit_warnings(&checked.documents) {
        cli::warn(format!("audit: {line}"));
    }
}

/// Both stdin and stderr are terminals: dialoguer reads one and draws on the other (with stdin
/// piped it would wait forever).
fn can_prompt() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn save(path: &Path, checked: &Checked, format: Format) -> anyhow::Result<()> {
    crate::files::write_atomic(path, |w| crate::render::manifests(w, &checked.yaml, &checked.documents, format))?;
    eprintln!("wrote {} ({} object(s))", path.display(), checked.documents.len());
    Ok(())
}

/// `-o` of gen: a format. A file name given the old way is told about `--output-file`.
fn manifest_format() -> impl clap::builder::TypedValueParser<Value = Format> {
    #[derive(Clone)]
    struct ManifestFormat;
    impl clap::builder::TypedValueParser for ManifestFormat {
        type Value = Format;
        fn parse_ref(
            &self,
            cmd: &clap::Command,
            arg: Option<&clap::Arg>,
            value: &std::ffi::OsStr,
        ) -> Result<Format, clap::Error> {
            one_of(MANIFEST_FORMATS).parse_ref(cmd, arg, value).map_err(|_| {
                let given = value.to_string_lossy();
                cmd.clone().error(
                    clap::error::ErrorKind::InvalidValue,
                    format!("-o takes a format, yaml or json (not {given:?}); to write a file: --output-file {given}"),
                )
            })
        }
        fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
            let values: Vec<_> = one_of(MANIFEST_FORMATS).possible_values()?.collect();
            Some(Box::new(values.into_iter()))
        }
    }
    ManifestFormat
}

fn show_summary(checked: &Checked, target: &Target) {
    let context = target.cluster.context.as_deref().unwrap_or("(in-cluster)");
    eprintln!("To apply to context {context}:");
    for line in generate::summary(&checked.documents, &target.namespace) {
        eprintln!("  {line}");
    }
}

/// Applies every object, printing kubectl's `kind.group/name created` lines as they are applied.
fn apply(
    checked: &Checked,
    target: &Target,
    progress: &dyn Progress,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Exit> {
    let mut failed: Option<std::io::Error> = None;
    let mut each = |o: &generate::AppliedObject| match &o.result {
        Ok(applied) => {
            if failed.is_none()
                && let Err(e) = writeln!(out, "{}/{} {}", o.type_name, o.name, applied.as_str())
            {
                failed = Some(e);
            }
        }
        Err(r) => cli::warn(format!("{} was not applied: the server refused it ({}): {}", o.what, r.code, r.message)),
    };
    let refused = generate::apply(checked, target, progress, &mut each)?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    out.flush()?;
    if refused > 0 {
        eprintln!("error: {refused} of {} object(s) were not applied", checked.documents.len());
        return Ok(Exit::Problems);
    }
    Ok(Exit::Clean)
}

/// The choices on a terminal: apply, edit, regenerate with feedback, save, cancel.
fn menu(
    client: &Client<'_>,
    session: &mut Session,
    mut checked: Checked,
    progress: &dyn Progress,
) -> anyhow::Result<Exit> {
    let mut stdout = anstream::stdout().lock();
    loop {
        print_highlighted(&mut stdout, &checked.yaml)?;
        let target = session.target.as_ref();
        let summary = generate::summary(&checked.documents, target.map_or("default", |t| t.namespace.as_str()));
        eprintln!("{} object(s): {}", summary.len(), summary.join(", "));
        let mut choices = vec!["Apply", "Edit in $EDITOR", "Regenerate with feedback", "Save to file", "Cancel"];
        if target.is_none() {
            choices.remove(0);
        }
        let picked = dialoguer::Select::new().with_prompt("What now?").items(&choices).default(0).interact_opt()?;
        let Some(picked) = picked.map(|i| choices[i]) else { return Ok(Exit::Clean) };
        match picked {
            "Apply" => {
                let target = target.ok_or_else(|| Error::Usage("no cluster to apply to".into()))?;
                show_summary(&checked, target);
                if dialoguer::Confirm::new().with_prompt("Apply?").default(false).interact()? {
                    return apply(&checked, target, progress, &mut stdout);
                }
            }
            "Edit in $EDITOR" => {
                let edited = edit(&checked.yaml)?;
                let next = session.check(&edited)?;
                for p in &next.problems {
                    eprintln!("problem: {p}");
                }
                if next.problems.is_empty() {
                    warn_audit(&next);
                    checked = next;
                } else {
                    eprintln!("The edit has problems: kept the previous version.");
                }
            }
            "Regenerate with feedback" => {
                let feedback: String = dialoguer::Input::new().with_prompt("What should change?").interact_text()?;
                let next = session.regenerate(&feedback, client, progress)?;
                if next.problems.is_empty() {
                    warn_audit(&next);
                    checked = next;
                } else {
                    invalid(&next, session.max_repairs());
                }
            }
            "Save to file" => {
                let path: String = dialoguer::Input::new().with_prompt("File").interact_text()?;
                save(Path::new(path.trim()), &checked, Format::Yaml)?;
                return Ok(Exit::Clean);
            }
            _ => return Ok(Exit::Clean),
        }
    }
}

/// Opens the YAML in `$VISUAL` or `$EDITOR` (or vi) and returns what was saved.
fn edit(yaml: &str) -> anyhow::Result<String> {
    let file = tempfile::Builder::new().prefix("kubectl-ai-gen-").suffix(".yaml").tempfile()?;
    std::fs::write(file.path(), yaml)?;
    let editor = std::env::var("VISUAL").or_else(|_| std::env::var("EDITOR")).unwrap_or_else(|_| "vi".into());
    let words = shell_words::split(&editor).map_err(|e| Error::Usage(format!("$EDITOR {editor:?}: {e}")))?;
    let (program, rest) = words.split_first().ok_or_else(|| Error::Usage("$EDITOR is empty".into()))?;
    let program = which::which(program).map_err(|_| Error::Usage(format!("the editor {program:?} is not on PATH")))?;
    let status = std::process::Command::new(program).args(rest).arg(file.path()).status()?;
    if !status.success() {
        return Err(Error::Usage(format!("the editor exited with {status}; the manifests are unchanged")).into());
    }
    Ok(std::fs::read_to_string(file.path())?)
}

/// YAML with its keys, comments and document separators colored (plain when not a terminal).
fn print_highlighted(out: &mut dyn std::io::Write, yaml: &str) -> std::io::Result<()> {
    use anstyle::{AnsiColor, Style};
    let key = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    let dim = Style::new().dimmed();
    let bold = Style::new().bold();
    for line in yaml.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            writeln!(out, "{dim}{line}{dim:#}")?;
        } else if line.trim_end() == "---" {
            writeln!(out, "{bold}{line}{bold:#}")?;
        } else if let Some(at) = key_end(line) {
            let (k, rest) = line.split_at(at);
            writeln!(out, "{key}{k}{key:#}{rest}")?;
        } else {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Where a YAML line's mapping key ends (`  - name: web` → after `name`), if it has one.
fn key_end(line: &str) -> Option<usize> {
    let body_start = line.len() - line.trim_start().len();
    let body_start = body_start + if line[body_start..].starts_with("- ") { 2 } else { 0 };
    let body = &line[body_start..];
    let colon = body.find(':')?;
    let plain_key =
        !body[..colon].is_empty() && !body[..colon].contains(' ') && !body.starts_with(['"', '\'', '{', '[']);
    let then = &body[colon + 1..];
    (plain_key && (then.is_empty() || then.starts_with(' '))).then_some(body_start + colon)
}
