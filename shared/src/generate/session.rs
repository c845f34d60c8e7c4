//! The `gen` verb: a conversation that produces checked manifests, repaired until they pass (or the
//! repairs run out), regenerated with feedback, and applied — only when the caller says so.

use crate::cluster::change_log;
use crate::cluster::{Applied, Cluster, ConnectOptions, Refused, ResourceType};
use crate::error::Error;
use crate::llm::redact::redact_text;
use crate::llm::{ChatOptions, Client, Message};
use crate::progress::Progress;
use crate::snapshot::Document;

use super::manifest::Problem;
use super::{Checked, Server};

/// The longest answer asked for, in tokens: manifests are long.
pub const MAX_ANSWER: u32 = 4096;

/// What to generate.
#[derive(Clone, Debug, Default)]
pub struct GenOptions {
    /// What to generate, or what to change in `base`.
    pub prompt: String,
    /// Manifests to change (piped in): their text, as sent (redacted), and the objects.
    pub base: Option<(String, Vec<Document>)>,
    /// The cluster to check against (server dry runs, facts in the prompt) and apply to; `None`
    /// checks without a server.
    pub cluster: Option<ConnectOptions>,
    /// `-n`: the namespace of objects that name none.
    pub namespace: Option<String>,
    /// Whether a cluster is required (to apply): one that cannot be reached is then an error, not a
    /// warning.
    pub cluster_required: bool,
    /// Repair rounds when the checks fail.
    pub max_repairs: u8,
    /// The team's house rules ([`crate::llm::ModelConfig::instructions`]), if any.
    pub instructions: Option<String>,
}

/// The cluster manifests are checked against and applied to.
pub struct Target {
    /// The cluster.
    pub cluster: Cluster,
    types: Vec<ResourceType>,
    /// Where objects that name no namespace go.
    pub namespace: String,
    /// Whether `-n` chose it (objects naming another namespace are then refused).
    explicit: bool,
}

impl Target {
    fn server(&self) -> Server<'_> {
        Server { cluster: &self.cluster, types: &self.types, namespace: &self.namespace, explicit: self.explicit }
    }
}

/// A generation: the conversation, the target cluster, the base being changed.
pub struct Session {
    /// The messages so far: what a dry run shows, and what a regeneration continues.
    pub messages: Vec<Message>,
    /// The cluster checked against and applied to, if any.
    pub target: Option<Target>,
    base: Option<Vec<Document>>,
    max_repairs: u8,
}

impl Session {
    /// Reads the cluster's facts (version, namespaces, classes) into the first messages. A cluster
    /// that cannot be reached is a warning — the manifests are then checked without a server —
    /// unless one is required.
    pub fn start(options: &GenOptions, progress: &dyn Progress) -> Result<Session, Error> {
        if options.prompt.trim().is_empty() {
            return Err(Error::Usage("the prompt is empty: say what to generate".into()));
        }
        let target = match &options.cluster {
            None => None,
            Some(connect) => match reach(connect, options.namespace.as_deref()) {
                Ok(t) => Some(t),
                Err(e) if !options.cluster_required => {
                    progress.warn(&format!(
                        "no cluster to check against ({e}): the manifests are checked without a server"
                    ));
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let facts = target.as_ref().map(|t| super::facts(&t.cluster, &t.namespace));
        let base_text = options.base.as_ref().map(|b| b.0.as_str());
        let system = match &options.instructions {
            Some(rules) => crate::llm::house_rules_section(super::SYSTEM, rules),
            None => super::SYSTEM.to_string(),
        };
        let messages = super::first_messages(&system, &options.prompt, base_text, facts.as_deref());
        Ok(Session {
            messages,
            target,
            base: options.base.as_ref().map(|b| b.1.clone()),
            max_repairs: options.max_repairs,
        })
    }

    /// Asks the model and repairs what the checks find, up to the repair limit; the result may still
    /// have problems.
    pub fn generate(&mut self, client: &Client<'_>, progress: &dyn Progress) -> Result<Checked, Error> {
        let options = ChatOptions { max_tokens: MAX_ANSWER, ..ChatOptions::default() };
        let server = self.target.as_ref().map(Target::server);
        let mut previous: Vec<Problem> = Vec::new();
        let mut defended: Vec<String> = Vec::new();
        let mut last: Option<Checked> = None;
        for round in 0..=self.max_repairs {
            let reply = match client.chat(&self.messages, &options, None) {
                Ok(reply) => reply.content,
                // A cap stopped a repair: the last manifests, with their problems, are still worth
                // showing.
                Err(Error::Budget(why)) if last.is_some() => {
                    return Ok(Checked { capped: Some(why), ..last.unwrap_or_default() });
                }
                Err(e) => return Err(e),
            };
            self.messages.push(Message::assistant(reply.clone()));
            let checked = match super::extract(&reply) {
                Some(yaml) => super::check(&yaml, server.as_ref())?,
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
            let dropped: Vec<String> = match &self.base {
                Some(b) if checked.problems.is_empty() => {
                    super::dropped_fields(b, &checked.documents).into_iter().filter(|d| !defended.contains(d)).collect()
                }
                _ => Vec::new(),
            };
            for fixed in previous.iter().filter(|p| !checked.problems.contains(p)) {
                progress.note(&format!("fixed: {fixed}"));
            }
            if (checked.problems.is_empty() && dropped.is_empty()) || round == self.max_repairs {
                return Ok(checked);
            }
            progress.note(&format!(
                "repair {} of {}: {}",
                round + 1,
                self.max_repairs,
                checked
                    .problems
                    .iter()
                    .map(ToString::to_string)
                    .chain(dropped.iter().map(|d| format!("{d}: dropped")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
            self.messages.push(super::repair_message(&checked.problems, &dropped));
            defended.extend(dropped);
            previous = checked.problems.clone();
            last = Some(checked);
        }
        Err(Error::model("no repair round ran"))
    }

    /// Generates again with the person's feedback on the last result.
    pub fn regenerate(
        &mut self,
        feedback: &str,
        client: &Client<'_>,
        progress: &dyn Progress,
    ) -> Result<Checked, Error> {
        self.messages.push(Message::user(redact_text(feedback)));
        self.generate(client, progress)
    }

    /// Checks manifests edited by hand, like the model's.
    pub fn check(&self, yaml: &str) -> Result<Checked, Error> {
        super::check(yaml, self.target.as_ref().map(Target::server).as_ref())
    }

    /// The repair limit.
    pub fn max_repairs(&self) -> u8 {
        self.max_repairs
    }
}

/// The cluster, its resource types, and the namespace for objects that name none.
fn reach(connect: &ConnectOptions, namespace: Option<&str>) -> Result<Target, Error> {
    let cluster = Cluster::connect(connect)?;
    let types = cluster.discover()?;
    let explicit = namespace.is_some();
    let namespace = namespace.map_or_else(|| cluster.default_namespace.clone(), str::to_string);
    Ok(Target { cluster, types, namespace, explicit })
}

/// What applying one object did.
#[derive(Clone, Debug)]
pub struct AppliedObject {
    /// The object as people name it in messages (`Deployment web`).
    pub what: String,
    /// Its type as kubectl prints it after `apply` (`deployment.apps`).
    pub type_name: String,
    /// Its name.
    pub name: String,
    /// What the server did, or its refusal.
    pub result: Result<Applied, Refused>,
}

/// Server-side applies every object, in order, and records each write in the change log; `each` is
/// told of every object as it is applied. Objects with placeholders for secret values are never
/// applied. Returns how many the server refused.
pub fn apply(
    checked: &Checked,
    target: &Target,
    progress: &dyn Progress,
    each: &mut dyn FnMut(&AppliedObject),
) -> Result<usize, Error> {
    if let Some(first) = checked.placeholders.first() {
        return Err(Error::Usage(format!(
            "{first} is {} (secret values are never sent to the model): nothing was applied; write the manifests with --output-file FILE, put the real values in, then kubectl apply -f FILE",
            crate::llm::redact::MASK
        )));
    }
    let mut refused = 0;
    for (i, doc) in checked.documents.iter().enumerate() {
        let v = &doc.value;
        let what = super::manifest::describe(v, i);
        let (api_version, kind) = (v["apiVersion"].as_str().unwrap_or(""), v["kind"].as_str().unwrap_or(""));
        let rt = Cluster::resource_of(&target.types, api_version, kind)
            .ok_or_else(|| Error::api(format!("{what}: the server does not serve {kind} in {api_version}")))?;
        let ns = super::namespace_of(v, &rt, &target.namespace, target.explicit)?;
        let result = target.cluster.apply(&rt, ns.as_deref(), v, false)?;
        let name = v["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let (text, code) = match &result {
            Ok(applied) => (applied.as_str().to_string(), 0),
            Err(r) => (format!("refused ({}): {}", r.code, r.message), 1),
        };
        let command = format!("apply {kind} {}{name}", ns.as_deref().map(|n| format!("{n}/")).unwrap_or_default());
        let entry = change_log::Entry {
            time: change_log::now(),
            tool: "gen",
            context: target.cluster.context.as_deref(),
            namespace: ns.as_deref(),
            command: &command,
            result: &text,
            exit_code: code,
        };
        if let Err(e) = change_log::record(&entry) {
            progress.warn(&e);
        }
        refused += usize::from(result.is_err());
        each(&AppliedObject { what, type_name: rt.singular_qualified(), name, result });
    }
    Ok(refused)
}
