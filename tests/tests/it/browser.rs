//! `kubectl ai exec --ui` in a real browser: Debian's Chromium, headless, driven over WebDriver by
//! Debian's chromedriver (both installed by `make test`). The page is loaded without and with its
//! token, asked questions answered by the fake model, switched to another profile, made to approve
//! one change and reject another, and made to resume a session. `UPDATE_DOCS=1` writes the
//! screenshots of docs/ui.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::{FakeModel, Fixture, deletes, kubectl_call, pid, state};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver in a process group of its own, ended with everything it started (the browser's
/// processes too, even when a failed test never closed its session).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // The group's id is its leader's pid (process_group(0) below).
        if let Some(group) = pid(&self.0) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver on a free port, once it listens.
fn driver() -> (Killed, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let driver = Killed(
        std::os::unix::process::CommandExt::process_group(&mut Command::new(CHROMEDRIVER), 0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (driver, format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("chromedriver did not listen on {port}");
}

async fn browser(webdriver: &str, profile: &Path) -> Client {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1280,800",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(webdriver).await.expect("a browser session")
}

/// The text of the element `css` once `ready` holds for it (at most 15 s).
async fn wait_text(client: &Client, css: &str, ready: impl Fn(&str) -> bool) -> String {
    for _ in 0..150 {
        if let Ok(found) = client.find_all(Locator::Css(css)).await {
            for element in found {
                if let Ok(text) = element.text().await
                    && ready(&text)
                {
                    return text;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = client.source().await.unwrap_or_default();
    panic!("no {css} as expected; the page:\n{page}");
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.map(|v| v.len()).unwrap_or(0)
}

async fn ask(client: &Client, question: &str) {
    let input = client.find(Locator::Id("question")).await.unwrap();
    input.send_keys(question).await.unwrap();
    client.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
}

/// Saves a screenshot for docs/ui.md when `UPDATE_DOCS=1`.
async fn screenshot(client: &Client, name: &str) {
    if std::env::var_os("UPDATE_DOCS").is_none() {
        return;
    }
    let png = client.screenshot().await.unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/ui");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

#[test]
fn the_page_in_a_browser_asks_switches_approves_rejects_and_resumes() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "skipped: {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium and chromium-driver) are not installed; make test installs them"
        );
        return;
    }
    let fx = Fixture::start(&state("demo"), &["--namespace", "shop"]);
    let first = FakeModel::start(
        &json!({"replies": [
            kubectl_call("c1", "get ns -o name"),
            {"content": "There are **5** namespaces:\n\n| namespace | purpose |\n|---|---|\n| shop | the store |\n| default | nothing |", "chunk_delay_ms": 80},
            kubectl_call("c2", "delete pod redis-0"), {"content": "Deleted redis-0."},
            kubectl_call("c3", "delete pod storefront-7d4b9c6f8-9k2lm"), {"content": "Left it alone."},
        ]})
        .to_string(),
        &[],
    );
    let second = FakeModel::start(&json!({"replies": [{"content": "The second model answers."}]}).to_string(), &[]);
    let config = first.dir.path().join("profiles.toml");
    std::fs::write(
        &config,
        format!(
            "default_profile = \"first\"\n[profiles.first]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"gpt-4o-mini\"\napi_key = \"sk-one-0123456789abcdef\"\n[profiles.second]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"qwen2.5-7b\"\napi_key = \"sk-two-0123456789abcdef\"\ntool_calling = false\ncontext_window = 32768\n",
            first.url, second.url
        ),
    )
    .unwrap();
    let mut cmd = Command::new(crate::support::bin("kubectl-ai-exec"));
    crate::support::clean_model_env(&mut cmd);
    cmd.env("OPSAGENT_CONFIG", &config)
        .env("KUBECONFIG", fx.kubeconfig())
        .env("KUBECACHEDIR", first.dir.path().join("kubecache"))
        .env("OPSAGENT_AUDIT_LOG", first.dir.path().join("audit.jsonl"))
        .env("XDG_STATE_HOME", first.dir.path().join("state"))
        .env("XDG_CACHE_HOME", first.dir.path().join("cache"))
        .env("HOME", first.dir.path());
    let server = crate::support::UiServer::start(&mut cmd);
    let url = server.url.clone();
    let base = url.split("#").next().unwrap().to_string();
    let (_driver, webdriver) = driver();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = browser(&webdriver, profile.path()).await;

        // Without the token: the page, but no data.
        client.goto(&base).await.unwrap();
        let notice = wait_text(&client, "#notice", |t| !t.is_empty()).await;
        assert!(notice.contains("no session"), "{notice}");
        assert_eq!(count(&client, "#model option").await, 0, "no profiles without a session");

        // With it: logged in, the token gone from the address bar.
        client.goto(&url).await.unwrap();
        let place = wait_text(&client, "#place", |t| t.contains("context fixture")).await;
        assert!(place.contains("namespace shop") && place.contains("gpt-4o-mini"), "{place}");
        assert!(!client.current_url().await.unwrap().as_str().contains("token"), "the token left the address bar");
        assert_eq!(count(&client, "#model option").await, 3, "in use, first, second");

        // A question: the tool call as it ran, then the answer as markdown (a table).
        ask(&client, "how many namespaces are there?").await;
        let tool = wait_text(&client, "details.tool summary", |t| t.contains("get ns -o name")).await;
        assert!(tool.contains("exit 0"), "{tool}");
        // The answer streams in as a draft, then is rendered whole.
        let draft = wait_text(&client, ".draft", |t| t.starts_with("There ar")).await;
        assert!(!draft.contains("nothing"), "seen before the end: {draft}");
        wait_text(&client, ".answer", |t| t.contains("There are 5 namespaces")).await;
        assert_eq!(count(&client, ".answer table tr").await, 3, "the table is a table");
        assert_eq!(count(&client, ".answer strong").await, 1);
        screenshot(&client, "answer").await;

        // Another profile for the next question: the request goes to the other model. This one is
        // asked with the keyboard alone: the box has the focus back, Enter sends.
        let select = client.find(Locator::Id("model")).await.unwrap();
        select.select_by_value("second").await.unwrap();
        client.find(Locator::Id("question")).await.unwrap().click().await.unwrap();
        let focused = client.active_element().await.unwrap();
        assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("question"));
        let enter = char::from(fantoccini::key::Key::Enter).to_string();
        focused.send_keys(&format!("and which model are you?{enter}")).await.unwrap();
        wait_text(&client, ".answer", |t| t.contains("The second model answers.")).await;
        assert_eq!((first.requests().len(), second.requests().len()), (2, 1));
        let place = wait_text(&client, "#place", |t| t.contains("qwen2.5-7b")).await;
        assert!(place.contains("openai qwen2.5-7b"), "{place}");

        // Back to the first: a change waits for a click, Approve runs it…
        client.find(Locator::Id("model")).await.unwrap().select_by_value("first").await.unwrap();
        ask(&client, "delete redis-0").await;
        let card = wait_text(&client, ".approval", |t| t.contains("delete pod redis-0")).await;
        assert!(card.contains("fixture") && card.contains("shop") && card.contains("http://127.0.0.1:"), "{card}");
        screenshot(&client, "approval").await;
        assert_eq!(deletes(&fx), 0, "nothing before the click");
        client.find(Locator::Css(".approval button.primary")).await.unwrap().click().await.unwrap();
        wait_text(&client, ".answer", |t| t.contains("Deleted redis-0.")).await;
        assert_eq!(deletes(&fx), 1);

        // …Reject does not. The focus waits on Reject, the safe answer: Enter there rejects.
        ask(&client, "delete the storefront pod").await;
        wait_text(&client, ".approval", |t| t.contains("storefront-7d4b9c6f8-9k2lm")).await;
        let mut focused = None;
        for _ in 0..50 {
            let active = client.active_element().await.unwrap();
            if active.text().await.unwrap_or_default() == "Reject" {
                focused = Some(active);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let reject = focused.expect("the focus on Reject");
        reject.send_keys(&char::from(fantoccini::key::Key::Enter).to_string()).await.unwrap();
        wait_text(&client, ".note", |t| t.contains("not done:") && t.contains("declined")).await;
        assert_eq!(deletes(&fx), 1, "exactly one change: the approved one");

        // The reports: worst first, filtered by namespace, a row turned into a question.
        client.find(Locator::Id("reports")).await.unwrap().click().await.unwrap();
        wait_text(&client, "#report-status", |t| t.contains("finding(s)")).await;
        let first_severity = wait_text(&client, "#report-table td.sev", |t| !t.is_empty()).await;
        assert_eq!(first_severity.to_lowercase(), "critical", "worst first");
        client.find(Locator::Id("report-namespace")).await.unwrap().select_by_value("shop").await.unwrap();
        let objects = client.find_all(Locator::Css("#report-table tbody tr td:nth-child(2)")).await.unwrap();
        assert!(!objects.is_empty());
        for o in &objects {
            assert!(o.text().await.unwrap().contains(" shop/"), "only shop's rows");
        }
        screenshot(&client, "reports").await;
        client.find(Locator::Css("#report-table tbody button")).await.unwrap().click().await.unwrap();
        let question: String = client
            .execute("return document.getElementById('question').value", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(question.starts_with("Why does ") && question.contains(" shop/"), "{question}");
        client.execute("document.getElementById('question').value = ''", vec![]).await.unwrap();
        client.find(Locator::Id("reports")).await.unwrap().click().await.unwrap();

        // A new conversation, then the saved one resumed.
        client.find(Locator::Id("reset")).await.unwrap().click().await.unwrap();
        for _ in 0..50 {
            if count(&client, "#conversation li").await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(count(&client, "#conversation li").await, 0);
        client.find(Locator::Id("sessions")).await.unwrap().click().await.unwrap();
        let listed = wait_text(&client, "#sessions-list button", |t| t.contains("how many namespaces")).await;
        assert!(listed.contains("fixture/shop"), "{listed}");
        screenshot(&client, "sessions").await;
        client.find(Locator::Css("#sessions-list button")).await.unwrap().click().await.unwrap();
        wait_text(&client, ".note", |t| t.contains("resumed session")).await;
        assert_eq!(count(&client, "#conversation .question").await, 4, "the four questions of the session");

        // A narrow window still has everything in reach.
        client.set_window_size(420, 800).await.unwrap();
        let send = client.find(Locator::Id("send")).await.unwrap();
        assert!(send.is_displayed().await.unwrap());
        let widths =
            client.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await.unwrap();
        assert!(widths[0].as_u64() <= widths[1].as_u64(), "nothing wider than the window: {widths}");
        screenshot(&client, "narrow").await;
        client.close().await.unwrap();
    });
}
