//! `kubectl ai gen`: manifests from a prompt, validated, applied only on request.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;

use clap::Parser;

use crate::cli::LlmArgs;
use crate::cli::{self, ClusterArgs, LogArgs};
use crate::cluster::Cluster;
use crate::cluster::change_log;
use crate::error::{Error, Exit};
use crate::generate::manifest::Problem;
use crate::generate::{self, Checked, Server};
use crate::llm::redact::MASK;
use crate::llm::{ChatOptions, Client, Message, ModelConfig};
use crate::render::dryrun::{self, DryRequest};

const EXAMPLES: &str = r#"Examples:
  # Generate, look, then apply (asks first)
  kubectl ai gen "nginx deployment with 3 replicas behind a service" --apply

  # Straight into kubectl: only the YAML goes to stdout
  kubectl ai gen "a CronJob that prunes /tmp every night" | kubectl apply -f -

  # Change existing manifests: stdin is the base, fields not mentioned are kept
  kubectl get deploy web -n shop -o yaml | kubectl ai gen "add a readiness probe on /healthz" -o web.yaml

  # See the prompt and its tokens first; nothing is sent
  kubectl ai gen "redis with a 5Gi volume" --dry-run

Exit codes: 0 valid manifests (written, printed or applied), 1 still invalid after the repairs or an
object the server refused to apply, 2 usage or input error, 3 cluster unreachable, 5 the model failed."#;

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

    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Write the manifests to FILE (atomically) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,

    /// Print only the YAML, even on a terminal (no summary, no menu)
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

    #[command(flatten)]
    pub llm: LlmArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// The longest answer asked for, in tokens: manifests are long.
const MAX_ANSWER: u32 = 4096;
const NO_CONFIRMATION: &str = "--apply asks for a confirmation, and there is no terminal to ask on: add --yes to apply without asking; nothing was applied";
/// The most YAML read from stdin.
const MAX_BASE: u64 = 16 * 1024 * 1024;

/// The cluster, when one is used.
struct Target {
    cluster: Cluster,
    types: Vec<crate::cluster::ResourceType>,
    namespace: String,
    explicit: bool,
}

impl Target {
    fn server(&self) -> Server<'_> {
        Server { cluster: &self.cluster, types: &self.types, namespace: &self.namespace, explicit: self.explicit }
    }
}

/// Runs `kubectl ai gen`.
pub fn run(args: &GenArgs) -> anyhow::Result<Exit> {
    let request = args.prompt.join(" ");
    if request.trim().is_empty() {
        return Err(Error::Usage("the prompt is empty: say what to generate".into()).into());
    }
    if args.apply && !args.yes && !args.llm.dry_run && !can_prompt() {
        return Err(Error::Usage(NO_CONFIRMATION.into()).into());
    }
    let base = read_base()?;
    let model = ModelConfig::resolve(&args.llm.options())?;
    let target = connect(args)?;
    let facts = target.as_ref().map(|t| generate::facts(&t.cluster, &t.namespace));
    let mut messages = generate::first_messages(&request, base.as_ref().map(|b| b.0.as_str()), facts.as_deref());
    let mut stdout = anstream::stdout().lock();
    if args.llm.dry_run {
        let dry = DryRequest { title: "generate", messages: &messages, trimmed: false, max_answer: MAX_ANSWER };
        dryrun::print(&mut stdout, &model, &[dry], 0, crate::render::Format::Text)?;
        return Ok(Exit::Clean);
    }
    if !model.configured {
        return Err(Error::Model(format!("gen needs a model: {}", ModelConfig::how_to_configure())).into());
    }
    let client = Client::new(model)?;
    let server = target.as_ref().map(Target::server);
    let base_docs = base.as_ref().map(|b| b.1.as_slice());
    let checked = generate_checked(&client, &mut messages, args.max_repairs, server.as_ref(), base_docs)?;
    if !checked.problems.is_empty() {
        return Ok(invalid(&checked, args.max_repairs));
    }
    for line in &checked.unchecked {
        cli::warn(line);
    }
    for place in &checked.placeholders {
        cli::warn(format!("{place} is {MASK}: secret values are never sent to the model; put the real value in"));
    }
    warn_audit(&checked);
    let interactive = !args.raw && std::io::stdout().is_terminal() && can_prompt();
    if interactive && args.output.is_none() && !args.apply {
        return menu(args, &client, &mut messages, checked, target.as_ref(), base_docs);
    }
    finish(args, &checked, target.as_ref(), &mut stdout)
}

/// Writes, prints or applies valid manifests.
fn finish(
    args: &GenArgs,
    checked: &Checked,
    target: Option<&Target>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Exit> {
    if let Some(path) = &args.output {
        save(path, &checked.yaml, checked.documents.len())?;
    } else if !args.apply {
        out.write_all(checked.yaml.as_bytes())?;
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
        return apply(checked, target, out);
    }
    Ok(Exit::Clean)
}

/// Reads the manifests to change from stdin, when something is piped in.
fn read_base() -> anyhow::Result<Option<(String, Vec<crate::snapshot::Document>)>> {
    if std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut text = String::new();
    std::io::stdin().lock().take(MAX_BASE).read_to_string(&mut text).map_err(|e| Error::input("stdin", e))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let docs = crate::generate::manifest::parse(&text).map_err(|e| Error::input("stdin", e))?;
    if docs.is_empty() {
        return Ok(None);
    }
    Ok(Some((text, docs)))
}

/// The cluster, unless `--no-cluster`; one that cannot be reached is a warning (the manifests are
/// then checked without a server) — except for `--apply`, which needs it.
fn connect(args: &GenArgs) -> anyhow::Result<Option<Target>> {
    if args.no_cluster {
        return Ok(None);
    }
    let reach = || -> Result<Target, Error> {
        let cluster = Cluster::connect(&args.cluster.connect_options())?;
        let types = cluster.discover()?;
        let namespace = args.cluster.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        Ok(Target { cluster, types, namespace, explicit: args.cluster.namespace.is_some() })
    };
    match reach() {
        Ok(t) => Ok(Some(t)),
        Err(e) if !args.apply => {
            cli::warn(format!("no cluster to check against ({e}): the manifests are checked without a server"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Asks the model and repairs what the checks find, up to `max_repairs` times. The conversation
/// is kept in `messages` (for a regeneration with feedback).
fn generate_checked(
    client: &Client,
    messages: &mut Vec<Message>,
    max_repairs: u8,
    server: Option<&Server<'_>>,
    base: Option<&[crate::snapshot::Document]>,
) -> anyhow::Result<Checked> {
    let options = ChatOptions { max_tokens: MAX_ANSWER, ..ChatOptions::default() };
    let mut previous: Vec<Problem> = Vec::new();
    let mut defended: Vec<String> = Vec::new();
    for round in 0..=max_repairs {
        let reply = client.chat(messages, &options, None)?.content;
        messages.push(Message::assistant(reply.clone()));
        let checked = match generate::extract(&reply) {
            Some(yaml) => generate::check(&yaml, server)?,
            None => {
                tracing::info!("the model's reply holds no YAML:\n{reply}");
                let problem = Problem {
                    object: "reply".into(),
                    path: String::new(),
                    message: "no YAML in it (run with -v to see it)".into(),
                    from_server: false,
                };
                Checked { problems: vec![problem], ..Checked::default() }
            }
        };
        // Fields of the base the result lost, asked about once: a second time, it was meant.
        let dropped: Vec<String> = match base {
            Some(b) if checked.problems.is_empty() => {
                generate::dropped_fields(b, &checked.documents).into_iter().filter(|d| !defended.contains(d)).collect()
            }
            _ => Vec::new(),
        };
        for fixed in previous.iter().filter(|p| !checked.problems.contains(p)) {
            eprintln!("fixed: {fixed}");
        }
        if (checked.problems.is_empty() && dropped.is_empty()) || round == max_repairs {
            return Ok(checked);
        }
        eprintln!(
            "repair {} of {max_repairs}: {}",
            round + 1,
            checked
                .problems
                .iter()
                .map(ToString::to_string)
                .chain(dropped.iter().map(|d| format!("{d}: dropped")))
                .collect::<Vec<_>>()
                .join("; ")
        );
        messages.push(generate::repair_message(&checked.problems, &dropped));
        defended.extend(dropped);
        previous = checked.problems;
    }
    unreachable!("the loop returns on its last round")
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

fn save(path: &std::path::Path, yaml: &str, objects: usize) -> anyhow::Result<()> {
    crate::files::write_atomic(path, |w| w.write_all(yaml.as_bytes()))?;
    eprintln!("wrote {} ({objects} object(s))", path.display());
    Ok(())
}

fn show_summary(checked: &Checked, target: &Target) {
    let context = target.cluster.context.as_deref().unwrap_or("(in-cluster)");
    eprintln!("To apply to context {context}:");
    for line in generate::summary(&checked.documents, &target.namespace) {
        eprintln!("  {line}");
    }
}

/// Server-side applies every object, in order, printing kubectl's `kind.group/name created` lines,
/// and records each write in the audit log.
fn apply(checked: &Checked, target: &Target, out: &mut dyn std::io::Write) -> anyhow::Result<Exit> {
    if let Some(first) = checked.placeholders.first() {
        return Err(Error::Usage(format!(
            "{first} is {MASK} (secret values are never sent to the model): nothing was applied; write the manifests with -o FILE, put the real values in, then kubectl apply -f FILE"
        ))
        .into());
    }
    let mut refused = 0;
    for (i, doc) in checked.documents.iter().enumerate() {
        let v = &doc.value;
        let what = crate::generate::manifest::describe(v, i);
        let (api_version, kind) = (v["apiVersion"].as_str().unwrap_or(""), v["kind"].as_str().unwrap_or(""));
        let rt = Cluster::resource_of(&target.types, api_version, kind)
            .ok_or_else(|| Error::Api(format!("{what}: the server does not serve {kind} in {api_version}")))?;
        let ns = generate::namespace_of(v, &rt, &target.namespace, target.explicit)?;
        let result = target.cluster.apply(&rt, ns.as_deref(), v, false)?;
        let name = v["metadata"]["name"].as_str().unwrap_or_default();
        let (text, code) = match &result {
            Ok(applied) => (applied.as_str().to_string(), 0),
            Err(r) => (format!("refused ({}): {}", r.code, r.message), 1),
        };
        let command = format!("apply {kind} {}{name}", ns.as_deref().map(|n| format!("{n}/")).unwrap_or_default());
        change_log::record(&change_log::Entry {
            time: change_log::now(),
            tool: "gen",
            context: target.cluster.context.as_deref(),
            namespace: ns.as_deref(),
            command: &command,
            result: &text,
            exit_code: code,
        });
        match result {
            Ok(applied) => writeln!(out, "{}/{name} {}", rt.singular_qualified(), applied.as_str())?,
            Err(r) => {
                refused += 1;
                cli::warn(format!("{what} was not applied: the server refused it ({}): {}", r.code, r.message));
            }
        }
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
    args: &GenArgs,
    client: &Client,
    messages: &mut Vec<Message>,
    mut checked: Checked,
    target: Option<&Target>,
    base: Option<&[crate::snapshot::Document]>,
) -> anyhow::Result<Exit> {
    let mut stdout = anstream::stdout().lock();
    loop {
        print_highlighted(&mut stdout, &checked.yaml)?;
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
                    return apply(&checked, target, &mut stdout);
                }
            }
            "Edit in $EDITOR" => {
                let edited = edit(&checked.yaml)?;
                let next = generate::check(&edited, target.map(Target::server).as_ref())?;
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
                messages.push(Message::user(crate::llm::redact::redact_text(&feedback)));
                let next =
                    generate_checked(client, messages, args.max_repairs, target.map(Target::server).as_ref(), base)?;
                if next.problems.is_empty() {
                    warn_audit(&next);
                    checked = next;
                } else {
                    invalid(&next, args.max_repairs);
                }
            }
            "Save to file" => {
                let path: String = dialoguer::Input::new().with_prompt("File").interact_text()?;
                save(std::path::Path::new(path.trim()), &checked.yaml, checked.documents.len())?;
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
