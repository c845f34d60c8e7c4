//! Tools offered only when they can work: `trivy` (found on PATH), `web_search` (Google Custom
//! Search, with `GOOGLE_API_KEY` and `GOOGLE_CSE_ID`), and the config file's own tools (a program
//! and an argv template with typed parameters, run directly — never through a shell).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::Error;
use crate::llm::CustomTool;

/// The Custom Search endpoint; `OPSAGENT_WEB_SEARCH_URL` overrides it (tests, proxies).
pub(crate) const WEB_SEARCH_URL: &str = "https://www.googleapis.com/customsearch/v1";

/// One optional tool.
#[derive(Clone, Debug)]
pub(crate) enum Extra {
    Trivy(PathBuf),
    WebSearch { key: String, cx: String, endpoint: String },
    Custom { tool: CustomTool, program: PathBuf },
}

const BUILT_IN: &[&str] = &["kubectl", "jq", "trivy", "web_search"];

/// The optional tools that can work here, and the config file's (checked: names, parameters,
/// placeholders, programs).
pub(crate) fn available(custom: &[CustomTool]) -> Result<Vec<Extra>, Error> {
    let mut out = Vec::new();
    if let Ok(path) = which::which("trivy") {
        out.push(Extra::Trivy(path));
    }
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    if let (Some(key), Some(cx)) = (env("GOOGLE_API_KEY"), env("GOOGLE_CSE_ID")) {
        let endpoint = env("OPSAGENT_WEB_SEARCH_URL").unwrap_or_else(|| WEB_SEARCH_URL.into());
        out.push(Extra::WebSearch { key, cx, endpoint });
    }
    for tool in custom {
        let bad = |why: String| Error::Usage(format!("config: tool {:?}: {why}", tool.name));
        if tool.name.is_empty() || !tool.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(bad("a name is letters, digits, '_' and '-'".into()));
        }
        if BUILT_IN.contains(&tool.name.as_str()) || custom.iter().filter(|t| t.name == tool.name).count() > 1 {
            return Err(bad("the name is taken".into()));
        }
        for (name, p) in &tool.parameters {
            if !matches!(p.kind.as_str(), "string" | "integer" | "boolean") {
                return Err(bad(format!("parameter {name}: type {:?} (string, integer or boolean)", p.kind)));
            }
        }
        for arg in &tool.command {
            for placeholder in placeholders(arg) {
                if !tool.parameters.contains_key(placeholder) {
                    return Err(bad(format!("{{{placeholder}}} is not a parameter")));
                }
            }
        }
        let program = tool.command.first().ok_or_else(|| bad("the command is empty".into()))?;
        let program = which::which(program).map_err(|_| bad(format!("{program} was not found on PATH")))?;
        out.push(Extra::Custom { tool: tool.clone(), program });
    }
    Ok(out)
}

fn placeholders(arg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else { break };
        out.push(&rest[start + 1..start + end]);
        rest = &rest[start + end + 1..];
    }
    out
}

impl Extra {
    pub(crate) fn name(&self) -> &str {
        match self {
            Extra::Trivy(_) => "trivy",
            Extra::WebSearch { .. } => "web_search",
            Extra::Custom { tool, .. } => &tool.name,
        }
    }

    /// Whether it runs without asking.
    pub(crate) fn read_only(&self) -> bool {
        match self {
            Extra::Custom { tool, .. } => tool.read_only,
            _ => true,
        }
    }

    /// Whether it sends what it is given beyond the cluster (a web search): refused in a read-only
    /// session, asked for otherwise.
    pub(crate) fn egress(&self) -> bool {
        matches!(self, Extra::WebSearch { .. })
    }

    /// The single parameter a ReAct input fills, if the tool has one.
    pub(crate) fn only_parameter(&self) -> Option<String> {
        match self {
            Extra::Trivy(_) => Some("image".into()),
            Extra::WebSearch { .. } => Some("query".into()),
            Extra::Custom { tool, .. } if tool.parameters.len() == 1 => tool.parameters.keys().next().cloned(),
            Extra::Custom { .. } => None,
        }
    }

    pub(crate) fn schema(&self) -> Value {
        let function = |name: &str, description: &str, properties: Value, required: Vec<String>| {
            json!({"type": "function", "function": {"name": name, "description": description,
                "parameters": {"type": "object", "properties": properties, "required": required}}})
        };
        match self {
            Extra::Trivy(_) => function(
                "trivy",
                "Scan a container image for known vulnerabilities.",
                json!({"image": {"type": "string"}}),
                vec!["image".into()],
            ),
            Extra::WebSearch { .. } => function(
                "web_search",
                "Search the web (error messages, release notes).",
                json!({"query": {"type": "string"}}),
                vec!["query".into()],
            ),
            Extra::Custom { tool, .. } => {
                let properties: serde_json::Map<String, Value> = tool
                    .parameters
                    .iter()
                    .map(|(n, p)| (n.clone(), json!({"type": p.kind, "description": p.description})))
                    .collect();
                function(
                    &tool.name,
                    &tool.description,
                    Value::Object(properties),
                    tool.parameters.keys().cloned().collect(),
                )
            }
        }
    }

    /// The argv a custom tool would run, for confirmations and the audit log.
    pub(crate) fn command_line(&self, args: &Value) -> Result<Vec<String>, String> {
        match self {
            Extra::Custom { tool, .. } => {
                let mut argv = Vec::new();
                for template in &tool.command {
                    let mut arg = template.clone();
                    for name in placeholders(template) {
                        let kind = tool.parameters.get(name).map_or("string", |p| p.kind.as_str());
                        let value = match (&args[name], kind) {
                            (Value::String(s), "string") => s.clone(),
                            (Value::Number(n), "integer") if n.is_i64() || n.is_u64() => n.to_string(),
                            (Value::Bool(b), "boolean") => b.to_string(),
                            (Value::Null, _) => {
                                return Err(format!("{} needs the parameter {name} ({kind})", tool.name));
                            }
                            (other, _) => {
                                return Err(format!("{} parameter {name} must be a {kind}, got {other}", tool.name));
                            }
                        };
                        arg = arg.replace(&format!("{{{name}}}"), &value);
                    }
                    argv.push(arg);
                }
                Ok(argv)
            }
            Extra::Trivy(_) => Ok(vec!["trivy".into(), "image".into(), args["image"].as_str().unwrap_or("").into()]),
            Extra::WebSearch { .. } => Ok(vec!["web_search".into(), args["query"].as_str().unwrap_or("").into()]),
        }
    }

    /// Runs the tool; the text is for the model (redacted and capped by the caller).
    pub(crate) fn run(&self, args: &Value, timeout: Duration) -> Result<String, String> {
        match self {
            Extra::Trivy(path) => {
                let image =
                    args["image"].as_str().filter(|i| !i.trim().is_empty()).ok_or("trivy needs {\"image\": \"…\"}")?;
                let scan = crate::audit::trivy::scan(path, &[image.to_string()], 1, timeout).remove(0);
                if let Some(e) = scan.error {
                    return Err(e);
                }
                if scan.counts.is_empty() {
                    return Ok(format!("{image}: no known vulnerabilities"));
                }
                let mut text = format!("{image}: {}\n", scan.summary(crate::findings::Severity::Info));
                for v in &scan.top {
                    let fixed = v.fixed.as_ref().map_or_else(|| "no fix yet".to_string(), |f| format!("fixed in {f}"));
                    text.push_str(&format!(
                        "{} {} {} {} ({fixed})\n",
                        v.severity.as_str(),
                        v.id,
                        v.package,
                        v.installed
                    ));
                }
                Ok(text)
            }
            Extra::WebSearch { key, cx, endpoint } => {
                let query = args["query"]
                    .as_str()
                    .filter(|q| !q.trim().is_empty())
                    .ok_or("web_search needs {\"query\": \"…\"}")?;
                let query = crate::llm::redact::redact_text(query);
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(timeout))
                    .proxy(ureq::Proxy::try_from_env())
                    .build()
                    .into();
                let mut response = agent
                    .get(endpoint)
                    .query("key", key)
                    .query("cx", cx)
                    .query("q", &query)
                    .query("num", "5")
                    .call()
                    .map_err(|e| format!("the search failed: {}", crate::llm::redact::redact_text(&e.to_string())))?;
                let body: Value =
                    response.body_mut().read_json().map_err(|e| format!("the search answered no JSON: {e}"))?;
                let items = body["items"].as_array().cloned().unwrap_or_default();
                if items.is_empty() {
                    return Ok(format!("no results for {query:?}"));
                }
                Ok(items
                    .iter()
                    .map(|i| {
                        format!(
                            "{}\n{}\n{}\n",
                            i["title"].as_str().unwrap_or(""),
                            i["link"].as_str().unwrap_or(""),
                            i["snippet"].as_str().unwrap_or("").replace('\n', " ")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            Extra::Custom { program, .. } => {
                let argv = self.command_line(args)?;
                let out = super::kubectl::run_command(program, &argv[1..], timeout);
                if out.code == 0 {
                    Ok(if out.stdout.trim().is_empty() { "(no output)".into() } else { out.stdout })
                } else {
                    Err(format!("exit code {}\n{}", out.code, out.stderr.trim_end()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(command: &[&str], params: &[(&str, &str)]) -> CustomTool {
        CustomTool {
            name: "t".into(),
            description: "d".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            parameters: params
                .iter()
                .map(|(n, k)| {
                    (n.to_string(), crate::llm::ToolParameter { kind: k.to_string(), description: String::new() })
                })
                .collect(),
            read_only: true,
        }
    }

    #[test]
    fn custom_tools_are_checked_and_filled() {
        assert!(available(&[tool(&["sh", "{x}"], &[])]).unwrap_err().to_string().contains("{x} is not a parameter"));
        assert!(
            available(&[tool(&["no-such-program-here"], &[])]).unwrap_err().to_string().contains("not found on PATH")
        );
        assert!(available(&[tool(&["echo"], &[("n", "float")])]).unwrap_err().to_string().contains("type \"float\""));
        let extra =
            available(&[tool(&["echo", "-n", "ns={ns}", "{count}"], &[("ns", "string"), ("count", "integer")])])
                .unwrap();
        let custom = extra.iter().find(|e| e.name() == "t").unwrap();
        assert_eq!(
            custom.command_line(&json!({"ns": "a b; rm", "count": 3})).unwrap(),
            ["echo", "-n", "ns=a b; rm", "3"]
        );
        assert!(custom.command_line(&json!({"ns": "a", "count": "3"})).unwrap_err().contains("must be a integer"));
        assert!(custom.command_line(&json!({"ns": "a"})).unwrap_err().contains("needs the parameter count"));
        assert_eq!(custom.run(&json!({"ns": "a b; rm", "count": 3}), Duration::from_secs(5)).unwrap(), "ns=a b; rm 3");
    }
}
