//! `kubectl ai exec --ui` over HTTP: the gate (token, cookie, Host, Origin, sizes), questions
//! answered as events, approvals decided on the page, the model picked per question, sessions.
//! Requests are written by hand so that every header is the test's choice.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{FakeModel, Fixture, UiServer, deletes, kubectl_call, state};

/// A running `exec --ui`, its address and one-time token.
struct Page {
    server: UiServer,
    addr: String,
    token: String,
}

impl Page {
    /// Ends the server and returns what it said on stderr.
    fn finish(self) -> String {
        self.server.finish()
    }
}

fn start(mut cmd: Command) -> Page {
    let server = UiServer::start(&mut cmd);
    let (base, token) = server.url.split_once("/#token=").unwrap();
    let (addr, token) = (base.trim_start_matches("http://").to_string(), token.to_string());
    Page { server, addr, token }
}

fn exec_command(fm: &FakeModel, fx: &Fixture) -> Command {
    fm.exec(fx)
}

/// An HTTP/1.1 exchange: the status, the headers (lower-case names) and the body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends a request with exactly these headers (Host included) and reads the whole answer.
fn send(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let stream = open(addr, method, path, headers, body);
    let mut reader = BufReader::new(stream);
    let (status, headers) = head(&mut reader);
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { unchunk(&rest) } else { String::from_utf8_lossy(&rest).into_owned() };
    Reply { status, headers, body }
}

fn open(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    stream
}

fn head(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = line.trim().split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (status, headers)
}

fn unchunk(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    let mut rest: &str = &text;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// A logged-in client of the page.
struct Browser<'p> {
    page: &'p Page,
    cookie: String,
}

impl Browser<'_> {
    fn origin(&self) -> String {
        format!("http://{}", self.page.addr)
    }

    fn get(&self, path: &str) -> Reply {
        let cookie = format!("opsagent_ui={}", self.cookie);
        send(&self.page.addr, "GET", path, &[("host", &self.page.addr), ("cookie", &cookie)], "")
    }

    fn post(&self, path: &str, body: &Value) -> Reply {
        let cookie = format!("opsagent_ui={}", self.cookie);
        let origin = self.origin();
        let headers = [
            ("host", self.page.addr.as_str()),
            ("cookie", &cookie),
            ("origin", &origin),
            ("content-type", "application/json"),
        ];
        send(&self.page.addr, "POST", path, &headers, &body.to_string())
    }

    /// Asks a question; `on` sees each event and may answer approvals (by posting to the page).
    fn ask(&self, question: &str, profile: Option<&str>, mut on: impl FnMut(&Value)) -> Vec<Value> {
        let cookie = format!("opsagent_ui={}", self.cookie);
        let origin = self.origin();
        let body = json!({"question": question, "profile": profile}).to_string();
        let headers = [
            ("host", self.page.addr.as_str()),
            ("cookie", &cookie),
            ("origin", &origin),
            ("content-type", "application/json"),
        ];
        let mut reader = BufReader::new(open(&self.page.addr, "POST", "/api/ask", &headers, &body));
        let (status, headers) = head(&mut reader);
        assert_eq!(status, 200, "{headers:?}");
        assert!(headers.iter().any(|(n, v)| n == "content-type" && v == "text/event-stream"));
        let mut events = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                let event: Value = serde_json::from_str(data).unwrap();
                on(&event);
                events.push(event);
            }
            line.clear();
        }
        events
    }
}

/// Logs in with the page's one-time token, as the page's script does.
fn login(page: &Page) -> Browser<'_> {
    let origin = format!("http://{}", page.addr);
    let bearer = format!("Bearer {}", page.token);
    let reply = send(
        &page.addr,
        "POST",
        "/api/login",
        &[("host", &page.addr), ("origin", &origin), ("authorization", &bearer)],
        "",
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cookie = reply.header("set-cookie").unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let value = cookie.split(';').next().unwrap().strip_prefix("opsagent_ui=").unwrap().to_string();
    Browser { page, cookie: value }
}

#[test]
fn nothing_passes_without_the_token_its_cookie_and_this_servers_names() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(&json!({"replies": [{"content": "Hello."}]}).to_string(), &[]);
    let page = start(exec_command(&fm, &fx));
    let addr = page.addr.clone();
    let origin = format!("http://{addr}");
    let port = addr.rsplit(':').next().unwrap().to_string();

    // The page's own files: no data, a strict policy, no inline script.
    let index = send(&addr, "GET", "/", &[("host", &addr)], "");
    assert_eq!(index.status, 200);
    let policy = index.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"));
    assert!(index.body.contains("<script src=\"/app.js\" defer></script>"));
    assert_eq!(index.body.matches("<script").count(), 1, "one script, from a file");
    let handlers = index.body.split(|c: char| c.is_whitespace()).filter(|w| {
        w.strip_prefix("on").is_some_and(|rest| {
            rest.split('=').next().is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase()))
                && rest.contains('=')
        })
    });
    assert_eq!(handlers.count(), 0, "no inline event handlers");
    assert_eq!(send(&addr, "GET", "/app.js", &[("host", &addr)], "").status, 200);

    // Without a session: nothing of the API.
    for path in ["/api/state", "/api/profiles", "/api/sessions", "/api/report/analyze", "/api/report/audit"] {
        assert_eq!(send(&addr, "GET", path, &[("host", &addr)], "").status, 401, "{path}");
    }
    let ask = json!({"question": "hi"}).to_string();
    assert_eq!(send(&addr, "POST", "/api/ask", &[("host", &addr), ("origin", &origin)], &ask).status, 401);
    let wrong = send(
        &addr,
        "POST",
        "/api/login",
        &[("host", &addr), ("origin", &origin), ("authorization", "Bearer nope")],
        "",
    );
    assert_eq!(wrong.status, 401);
    // The token from another site, or with another Host (DNS rebinding), or without an Origin.
    let bearer = format!("Bearer {}", page.token);
    let evil_host = format!("evil.example:{port}");
    for headers in [
        vec![("host", addr.as_str()), ("origin", "http://evil.example"), ("authorization", bearer.as_str())],
        vec![("host", evil_host.as_str()), ("origin", origin.as_str()), ("authorization", bearer.as_str())],
        vec![("host", addr.as_str()), ("authorization", bearer.as_str())],
    ] {
        let reply = send(&addr, "POST", "/api/login", &headers, "");
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.body);
    }
    assert_eq!(send(&addr, "GET", "/", &[("host", &evil_host)], "").status, 403, "rebinding: not even the page");

    // The token once: a cookie; the token again: refused.
    let browser = login(&page);
    let again =
        send(&addr, "POST", "/api/login", &[("host", &addr), ("origin", &origin), ("authorization", &bearer)], "");
    assert_eq!(again.status, 401, "the token works once");
    let state = browser.get("/api/state");
    assert_eq!(state.status, 200, "{}", state.body);
    assert_eq!(state.json()["context"], "fixture");
    assert_eq!(state.json()["namespace"], "shop");
    assert_eq!(state.header("cache-control"), Some("no-store"));
    let forged = send(&addr, "GET", "/api/state", &[("host", &addr), ("cookie", "opsagent_ui=0000")], "");
    assert_eq!(forged.status, 401);

    // With the cookie, but from another site, or too big: refused, and nothing reaches the model.
    let cookie = format!("opsagent_ui={}", browser.cookie);
    let cross = send(
        &addr,
        "POST",
        "/api/ask",
        &[("host", &addr), ("cookie", &cookie), ("origin", "http://evil.example")],
        &ask,
    );
    assert_eq!(cross.status, 403);
    let big = json!({"question": "x".repeat(70_000)}).to_string();
    let large = send(&addr, "POST", "/api/ask", &[("host", &addr), ("cookie", &cookie), ("origin", &origin)], &big);
    assert_eq!(large.status, 413);
    assert_eq!(fm.requests().len(), 0, "nothing was asked");

    // Guessing is cut short: past 30 requests without a session a minute, every one gets 429.
    let statuses: Vec<u16> = (0..40).map(|_| send(&addr, "GET", "/api/state", &[("host", &addr)], "").status).collect();
    assert!(statuses.iter().take(15).all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    std::thread::sleep(std::time::Duration::from_millis(1100)); // past the second of the overall rate
    assert_eq!(browser.get("/api/state").status, 200, "the person's session is not locked out");
}

#[test]
fn beyond_loopback_only_with_tls() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(&json!({"replies": [{"content": "x"}]}).to_string(), &[]);
    let out = crate::support::run(exec_command(&fm, &fx).args(["--ui", "--no-browser", "--listen", "0.0.0.0:0"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    out.assert_one_error_line();
    assert!(out.stderr.contains("needs --tls-cert and --tls-key"), "{}", out.stderr);
    let out = crate::support::run(exec_command(&fm, &fx).args(["--listen", "127.0.0.1:0", "how many pods?"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--listen serves MCP (--mcp-server) or the page (--ui)"), "{}", out.stderr);
    assert_eq!(fm.requests().len(), 0);
}

#[test]
fn questions_stream_their_tool_calls_and_changes_wait_for_a_click() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(
        &json!({"replies": [
            kubectl_call("c1", "get ns -o name"), {"content": "There are **5** namespaces.\n\n| name |\n|---|\n| shop |"},
            kubectl_call("c2", "delete pod redis-0"), {"content": "Deleted."},
            kubectl_call("c3", "delete pod storefront-7d4b9c6f8-9k2lm"), {"content": "Not deleted."},
        ]})
        .to_string(),
        &[],
    );
    let page = start(exec_command(&fm, &fx));
    let browser = login(&page);

    let events = browser.ask("how many namespaces?", None, |_| {});
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).filter(|k| *k != "text").collect();
    assert_eq!(kinds, ["state", "tool", "answer"], "{events:?}");
    assert_eq!(events[1]["step"]["input"], "get ns -o name");
    assert!(events[1]["output"].as_str().unwrap().contains("namespace/shop"), "{}", events[1]);
    // The answer streamed in pieces before it came whole.
    let pieces: Vec<&str> =
        events.iter().filter(|e| e["type"] == "text").map(|e| e["text"].as_str().unwrap()).collect();
    assert!(pieces.len() > 1, "{events:?}");
    let answer = events.last().unwrap();
    assert_eq!(answer["answer"]["answer"], "There are **5** namespaces.\n\n| name |\n|---|\n| shop |");
    assert_eq!(pieces.concat(), answer["answer"]["answer"].as_str().unwrap());

    // A change waits for Approve; meanwhile the session takes no other question.
    let mut busy = None;
    let events = browser.ask("delete redis-0", None, |event| {
        if event["type"] == "approval" {
            assert!(event["command"].as_str().unwrap().ends_with("delete pod redis-0"), "{event}");
            assert_eq!(event["context"], "fixture");
            assert_eq!(event["namespace"], "shop");
            assert!(event["server"].as_str().unwrap().starts_with("http://127.0.0.1:"));
            busy = Some(browser.post("/api/ask", &json!({"question": "and now?"})).status);
            assert_eq!(deletes(&fx), 0, "nothing runs before the click");
            let reply = browser.post("/api/approve", &json!({"id": event["id"], "approve": true}));
            assert_eq!(reply.status, 200, "{}", reply.body);
        }
    });
    assert_eq!(busy, Some(409));
    assert_eq!(events.last().unwrap()["answer"]["answer"], "Deleted.", "{events:?}");
    assert_eq!(deletes(&fx), 1);

    // Reject: not run, and said so.
    let events = browser.ask("delete storefront", None, |event| {
        if event["type"] == "approval" {
            browser.post("/api/approve", &json!({"id": event["id"], "approve": false}));
        }
    });
    let answer = &events.last().unwrap()["answer"];
    assert_eq!(answer["notRun"][0]["why"], "declined", "{answer}");
    assert_eq!(deletes(&fx), 1, "exactly one change, the approved one");
    let log = std::fs::read_to_string(fm.dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("redis-0")).count(),
        1,
        "the change log has the approved change: {log}"
    );

    // The session is saved like the terminal's, and can be resumed from the page.
    let sessions = browser.get("/api/sessions").json();
    let saved = &sessions["sessions"][0];
    assert_eq!(saved["questions"].as_array().unwrap().len(), 3, "{sessions}");
    let id = saved["id"].as_str().unwrap();
    browser.post("/api/reset", &json!({}));
    let resumed = browser.post("/api/resume", &json!({"id": id}));
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    assert_eq!(resumed.json()["questions"][0], "how many namespaces?");
    assert_eq!(browser.get("/api/state").json()["session"], id);
    drop(browser);
    let said = page.finish();
    assert!(said.contains("(the link works once"), "{said}");
    assert!(!said.contains("sk-test-key") && !said.contains("error"), "{said}");
}

#[test]
fn the_reports_are_the_plugins_reports_worst_first() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(&json!({"replies": [{"content": "x"}]}).to_string(), &[]);
    let page = start(exec_command(&fm, &fx));
    let browser = login(&page);
    for (path, plugin, field) in [
        ("/api/report/analyze", "kubectl-ai-analyze", "results"),
        ("/api/report/audit", "kubectl-ai-audit", "findings"),
    ] {
        let reply = browser.get(path);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let rows = reply.json()["rows"].as_array().unwrap().clone();
        let own = crate::support::run(&mut fx.plugin(plugin, &["-A", "-o", "json"]));
        let expected = own.json()[field].as_array().unwrap().len();
        assert!(expected > 0);
        assert_eq!(rows.len(), expected, "{path}: the plugin's own report, row for row");
        let order = ["info", "low", "medium", "high", "critical"];
        let ranks: Vec<usize> = rows.iter().map(|r| order.iter().position(|s| r["severity"] == *s).unwrap()).collect();
        assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{path}: worst first: {ranks:?}");
        assert!(rows.iter().all(|r| r["kind"].is_string() && r["name"].is_string() && r["message"].is_string()));
    }
    assert_eq!(fm.requests().len(), 0, "reports ask no model");
}

#[test]
fn the_model_is_picked_per_question() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let first = FakeModel::start(
        &json!({"replies": [kubectl_call("c1", "get ns -o name"), {"content": "From the first."}]}).to_string(),
        &[],
    );
    let second = FakeModel::start(&json!({"replies": [{"content": "From the second."}]}).to_string(), &[]);
    let config = first.dir.path().join("profiles.toml");
    std::fs::write(
        &config,
        format!(
            "default_profile = \"first\"\n[profiles.first]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"model-one\"\napi_key = \"sk-one-0123456789abcdef\"\n[profiles.second]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"model-two\"\napi_key = \"sk-two-0123456789abcdef\"\ntool_calling = false\ncontext_window = 8192\n",
            first.url, second.url
        ),
    )
    .unwrap();
    let mut cmd = exec_command(&first, &fx);
    cmd.env_remove("OPENAI_BASE_URL").env_remove("OPENAI_API_KEY").env("OPSAGENT_CONFIG", &config);
    let page = start(cmd);
    let browser = login(&page);
    let profiles = browser.get("/api/profiles").json();
    assert_eq!(
        profiles,
        json!([
            {"name": "first", "provider": "openai", "model": "model-one", "toolCalling": true, "default": true},
            {"name": "second", "provider": "openai", "model": "model-two", "toolCalling": false, "contextWindow": 8192, "default": false}
        ])
    );
    assert!(!profiles.to_string().contains("sk-"), "no key leaves the server");
    let events = browser.ask("hello?", None, |_| {});
    assert_eq!(events.last().unwrap()["answer"]["answer"], "From the first.");
    let events = browser.ask("and you?", Some("second"), |_| {});
    assert_eq!(events.last().unwrap()["answer"]["answer"], "From the second.", "{events:?}");
    assert_eq!(events[0]["state"]["model"]["model"], "model-two");
    assert_eq!((first.requests().len(), second.requests().len()), (2, 1));
    let sent = &second.requests()[0]["body"];
    assert_eq!(sent["model"], "model-two");
    assert!(sent["tools"].is_null(), "a model without tool calling gets the JSON protocol: {sent}");
    let messages = sent["messages"].as_array().unwrap();
    assert!(messages.iter().any(|m| m["content"] == "hello?"), "the conversation goes on with the other model");
    assert_eq!(browser.get("/api/state").json()["profile"], "second");
}

#[test]
fn a_change_whose_page_went_away_is_not_run() {
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let fm = FakeModel::start(
        &json!({"replies": [kubectl_call("c1", "delete pod redis-0"), {"content": "Not deleted."}, {"content": "Still here."}]})
            .to_string(),
        &[],
    );
    let page = start(exec_command(&fm, &fx));
    let browser = login(&page);
    let cookie = format!("opsagent_ui={}", browser.cookie);
    let origin = browser.origin();
    let body = json!({"question": "delete redis-0"}).to_string();
    let headers =
        [("host", page.addr.as_str()), ("cookie", &cookie), ("origin", &origin), ("content-type", "application/json")];
    {
        let mut reader = BufReader::new(open(&page.addr, "POST", "/api/ask", &headers, &body));
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.contains("\"approval\"") {
            line.clear();
        }
        assert!(line.contains("delete pod redis-0"), "{line}");
    } // the tab is closed while the change waits
    let mut status = 0;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let state = browser.get("/api/state").json();
        if state["busy"] == false {
            status = 200;
            break;
        }
    }
    assert_eq!(status, 200, "the session is free again without waiting 10 minutes");
    assert_eq!(deletes(&fx), 0, "nobody said yes");
    let tool_result = &fm.requests()[1]["body"]["messages"];
    assert!(tool_result.to_string().contains("refused"), "the model was told: {tool_result}");
    let events = browser.ask("is it still there?", None, |_| {});
    assert_eq!(events.last().unwrap()["type"], "answer", "{events:?}");
}
