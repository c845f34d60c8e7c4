//! A model's context window as the server reports it, and as its rejections teach it.
//!
//! Local servers run a model at a window of their own choosing (llama.cpp's `-c`, vLLM's
//! `--max-model-len`, Ollama's `num_ctx`), often far below what the model was trained with, so the
//! built-in table of model names overestimates them. Where a server can be asked, it is; a request
//! rejected for its size names the window in the server's words, and that window is remembered for
//! the endpoint and model so the next run sizes its requests right from the start.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::config::{ModelConfig, Provider};

/// Ollama's window when nothing says otherwise: its OpenAI-compatible route runs every model at it
/// whatever the request asks.
pub(crate) const OLLAMA_DEFAULT: usize = 4_096;
/// The largest `num_ctx` asked of Ollama unless configured: its memory grows with the window.
pub(crate) const OLLAMA_MOST: usize = 16_384;

/// A request the server found too long for its window, in the server's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow {
    /// The window, when the message names it.
    pub window: Option<usize>,
    /// The tokens the request came to, when the message names them.
    pub requested: Option<usize>,
}

/// Reads a rejection for size. The real servers' words:
/// - llama.cpp: "request (35127 tokens) exceeds the available context size (4096 tokens), try increasing it"
/// - vLLM: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens
///   (4000 in the messages, 1000 in the completion)." and "… maximum context length is 4096 tokens and
///   your request has 3500 input tokens (1024 > 4096 - 3500)"
/// - OpenAI and Azure (`context_length_exceeded`): "This model's maximum context length is 128000
///   tokens. However, your messages resulted in 130532 tokens."
/// - Ollama: "the input length exceeds the context length"
pub(crate) fn overflow(message: &str) -> Option<Overflow> {
    let m = message.to_ascii_lowercase();
    let about_size =
        ["context length", "context size", "context window", "context_length_exceeded"].iter().any(|w| m.contains(w));
    let too_much =
        ["exceed", "maximum context", "too long", "too large", "reduce the length"].iter().any(|w| m.contains(w));
    if !(about_size && too_much) {
        return None;
    }
    let window = number_after(&m, "context size (")
        .or_else(|| number_after(&m, "maximum context length is "))
        .or_else(|| number_after(&m, "context window of "));
    let requested = number_after(&m, "request (")
        .or_else(|| number_after(&m, "you requested "))
        .or_else(|| number_after(&m, "resulted in "))
        .or_else(|| number_after(&m, "your request has "));
    Some(Overflow { window, requested })
}

fn number_after(text: &str, marker: &str) -> Option<usize> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == ',').filter(|c| *c != ',').collect();
    digits.parse().ok().filter(|n| *n > 0)
}

/// `<XDG cache dir>/opsagent/windows.json`: windows learned from rejections, by endpoint and model.
fn store() -> Option<PathBuf> {
    use etcetera::BaseStrategy as _;
    etcetera::choose_base_strategy().ok().map(|s| s.cache_dir().join("opsagent").join("windows.json"))
}

fn key(url: &str, model: &str) -> String {
    format!("{url} {model}")
}

fn load() -> BTreeMap<String, usize> {
    store().and_then(|p| std::fs::read(p).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// The window a rejection taught for this endpoint and model.
pub(crate) fn remembered(url: &str, model: &str) -> Option<usize> {
    load().get(&key(url, model)).copied()
}

/// Remembers the window a rejection named. A cache that cannot be written is only logged.
pub(crate) fn remember(url: &str, model: &str, window: usize) {
    let Some(path) = store() else { return };
    let mut all = load();
    all.insert(key(url, model), window);
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .map_err(|e| crate::error::Error::Write { path: path.clone(), source: e })
        .and_then(|()| {
            crate::files::write_atomic(&path, |w| serde_json::to_writer(w, &all).map_err(std::io::Error::other))
        });
    if let Err(e) = written {
        tracing::info!("cannot remember the model's window: {e}");
    }
}

/// Asks a local server for the window it runs the model at: Ollama's `/api/show`; llama.cpp's
/// `/props`; vLLM's `/v1/models` (`max_model_len`); an OpenAI-compatible route of Ollama
/// (`/api/version` answers) runs at [`OLLAMA_DEFAULT`]. Hosted APIs are not asked (the table knows
/// them). Quick and quiet: anything that does not answer in two seconds is left alone.
pub(crate) fn detect(config: &ModelConfig) -> Option<usize> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .proxy(ureq::Proxy::try_from_env())
        .build()
        .into();
    let base = config.base_url.trim().trim_end_matches('/');
    let get = |url: &str| -> Option<Value> {
        let mut r = agent.get(url).call().ok()?;
        (r.status().as_u16() == 200).then_some(())?;
        r.body_mut().with_config().limit(1 << 20).read_json().ok()
    };
    match config.provider {
        Provider::Azure => None,
        Provider::Ollama => {
            let mut r =
                agent.post(&format!("{base}/api/show")).send_json(serde_json::json!({"model": config.model})).ok()?;
            (r.status().as_u16() == 200).then_some(())?;
            let show: Value = r.body_mut().with_config().limit(4 << 20).read_json().ok()?;
            Some(ollama_window(&show))
        }
        Provider::Openai => {
            let root = root(base)?;
            if !local(&root) {
                return None;
            }
            if let Some(n) = get(&format!("{root}/props")).and_then(|p| llama_cpp_window(&p)) {
                return Some(n);
            }
            let models = get(&format!("{root}/v1/models"));
            if let Some(n) = models.as_ref().and_then(|m| vllm_window(m, &config.model)) {
                return Some(n);
            }
            get(&format!("{root}/api/version")).filter(|v| v["version"].is_string()).map(|_| OLLAMA_DEFAULT)
        }
    }
}

/// Whether a server is one's own (plain HTTP, loopback, a private address, a cluster or LAN name),
/// where a local model server runs; hosted APIs are not probed.
fn local(root: &str) -> bool {
    let Some((scheme, host)) = root.split_once("://") else { return false };
    let host = host.rsplit_once(':').filter(|(_, p)| p.parse::<u16>().is_ok()).map_or(host, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if scheme == "http" || !host.contains('.') {
        return true;
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return match ip {
            std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
            std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
    }
    [".local", ".internal", ".svc", ".cluster.local", ".lan", ".home.arpa"].iter().any(|s| host.ends_with(s))
}

/// The server's root: the base URL without its API path (`http://h:8080/v1` → `http://h:8080`).
fn root(base: &str) -> Option<String> {
    let (scheme, rest) = base.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}"))
}

/// Ollama: the Modelfile's `num_ctx` when it sets one, else the model's trained length bounded by
/// [`OLLAMA_MOST`], else [`OLLAMA_DEFAULT`].
fn ollama_window(show: &Value) -> usize {
    let set = show["parameters"].as_str().and_then(|p| {
        p.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("num_ctx")).then(|| words.next()?.parse::<usize>().ok()).flatten()
        })
    });
    let trained = show["model_info"]
        .as_object()
        .and_then(|info| info.iter().find(|(k, _)| k.ends_with(".context_length")).and_then(|(_, v)| v.as_u64()))
        .map(|n| n as usize);
    set.or(trained.map(|t| t.min(OLLAMA_MOST))).unwrap_or(OLLAMA_DEFAULT)
}

/// llama.cpp's `/props`: the window of a slot (`default_generation_settings.n_ctx`, or `n_ctx`).
fn llama_cpp_window(props: &Value) -> Option<usize> {
    props["default_generation_settings"]["n_ctx"].as_u64().or_else(|| props["n_ctx"].as_u64()).map(|n| n as usize)
}

/// vLLM's `/v1/models`: `max_model_len` of the model asked for (or of the only model served).
fn vllm_window(models: &Value, model: &str) -> Option<usize> {
    let data = models["data"].as_array()?;
    let entry = data.iter().find(|m| m["id"] == model).or_else(|| (data.len() == 1).then(|| &data[0]))?;
    entry["max_model_len"].as_u64().map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejections_for_size_in_the_servers_words() {
        let cases = [
            (
                "request (35127 tokens) exceeds the available context size (4096 tokens), try increasing it",
                Some(4096),
                Some(35127),
            ),
            (
                "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the length of the messages or completion.",
                Some(4096),
                Some(5000),
            ),
            (
                "'max_tokens' or 'max_completion_tokens' is too large: 1024. This model's maximum context length is 4096 tokens and your request has 3500 input tokens (1024 > 4096 - 3500).",
                Some(4096),
                Some(3500),
            ),
            (
                "This model's maximum context length is 128000 tokens. However, your messages resulted in 130,532 tokens. Please reduce the length of the messages.",
                Some(128_000),
                Some(130_532),
            ),
            ("the input length exceeds the context length", None, None),
        ];
        for (message, window, requested) in cases {
            assert_eq!(overflow(message), Some(Overflow { window, requested }), "{message}");
        }
        for message in ["model not found", "tools param requires --jinja flag", "the context was cancelled", ""] {
            assert_eq!(overflow(message), None, "{message}");
        }
    }

    #[test]
    fn windows_servers_report() {
        let show =
            json!({"parameters": "stop \"<|eot|>\"\nnum_ctx 8192", "model_info": {"llama.context_length": 131072}});
        assert_eq!(ollama_window(&show), 8192);
        assert_eq!(ollama_window(&json!({"model_info": {"qwen2.context_length": 32768}})), OLLAMA_MOST);
        assert_eq!(ollama_window(&json!({"model_info": {"gemma.context_length": 8192}})), 8192);
        assert_eq!(ollama_window(&json!({})), OLLAMA_DEFAULT);
        assert_eq!(llama_cpp_window(&json!({"default_generation_settings": {"n_ctx": 4096}})), Some(4096));
        assert_eq!(llama_cpp_window(&json!({"n_ctx": 2048})), Some(2048));
        let models = json!({"data": [{"id": "a", "max_model_len": 8192}, {"id": "b", "max_model_len": 4096}]});
        assert_eq!(vllm_window(&models, "b"), Some(4096));
        assert_eq!(vllm_window(&models, "c"), None);
        assert_eq!(vllm_window(&json!({"data": [{"id": "x", "max_model_len": 2048}]}), "y"), Some(2048));
        assert_eq!(root("http://h:8080/v1"), Some("http://h:8080".into()));
        for (root, want) in [
            ("http://vllm:8000", true),
            ("https://localhost:8443", true),
            ("https://10.0.0.7", true),
            ("https://llm.ml.svc.cluster.local", true),
            ("https://[::1]:8080", true),
            ("https://api.deepseek.com", false),
            ("https://api.openai.com", false),
            ("https://dashscope.aliyuncs.com", false),
            ("https://8.8.8.8", false),
        ] {
            assert_eq!(local(root), want, "{root}");
        }
    }
}
