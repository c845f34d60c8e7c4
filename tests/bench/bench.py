#!/usr/bin/env python3
"""make bench, six benchmarks (BENCH=tokens, BENCH=exec, BENCH=mcp, BENCH=ui, BENCH=scale or BENCH=watch runs one):

tokens: the prompt tokens `kubectl-ai-analyze --explain` sends for tests/states/explain (10 identical
crashing replicas + 3 other faults), recorded by the fake model, against what k8sgpt's
`analyze --explain` would send for the same state (its documented per-result prompt, computed by
token-count); then a second run, which the cache must answer without a request.

exec: the agent's fixed prompt overhead (system prompt + tool schemas), the prompt tokens and model
calls of one question against a scripted model, and the capped result of `get pods -A -o json` on
the 10,000-pod state.

mcp: `kubectl-ai-exec --mcp-server` on the demo state, driven by raw JSON-RPC (no SDK in the way):
latency of the `analyze` and `kubectl get pods` tool calls over stdio and over streamable HTTP
(median and p99 of CALLS calls each), the server's RSS before and after 1,000 further calls, and
the tokens of the tool list an agent pays for on every turn.

scale: at each size of BENCH_PODS (default 10,000, 50,000 and 150,000 pods; generated states),
`kubectl-ai-analyze -A -o json` and `kubectl-ai-audit -A -o json` live against the fixture cluster
and from the state file (`--snapshot`), and `kubectl get <the same kinds> -A -o json` up to 50,000
pods, side by side. Runs are interleaved (A, B, A, B, ...) so that a noisy machine affects all alike
(BENCH_RUNS at the first size, a third of them at the others); medians are reported, with the ratios
that matter and the growth from the smallest size to the largest.

ui: `kubectl-ai-exec --ui` on the demo state: the page's weight (HTML + JS + CSS as served,
uncompressed and gzipped), and the time from a question to its first streamed text and to its answer
(one kubectl call, then the answer, from a scripted model), side by side with the same question
asked of `kubectl-ai-exec` in a terminal (the whole process), RUNS times, interleaved.

watch: `analyze --watch` and `audit --watch` on the demo state, back to back (--watch 0s --force),
for WATCH_RUNS runs (default 1,000: a day of a 90-second interval, four days of 5 minutes), serving
/metrics and telling a local webhook what changed, with a state file; the resident set sampled at
runs 10, 100, 250, 500, 750 and the last: it must not grow beyond noise.

Peak RSS is the process's own maximum resident set, as GNU time reports it. kubectl is the real binary
behind the dispatcher (kubectl.1.32), so the dispatcher's extra process and /version call are not
counted against it.
"""
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "target", "release")
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
# The exec bench's state: the first size of the scale bench.
PODS = int(os.environ.get("BENCH_PODS", "10000").split(",")[0])
CALLS = int(os.environ.get("BENCH_CALLS", "200"))


def kubectl_binary():
    found = shutil.which("kubectl")
    if not found:
        sys.exit("make bench: kubectl is required")
    real = os.path.join(os.path.dirname(os.path.realpath(found)), "kubectl.1.32")
    return real if os.path.exists(real) else found


def measure(cmd, env):
    """Wall seconds, peak RSS in MiB, exit code of one run.

    The peak RSS is measured by GNU time, which starts the command from its own small process:
    Linux carries a process's peak RSS across exec, so a command started straight from this
    script would report at least the script's own (hundreds of MiB once it has read a large
    report)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        start = time.perf_counter()
        code = subprocess.run(["/usr/bin/time", "-q", "-f", "%M", "-o", out.name, *cmd],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode
        wall = time.perf_counter() - start
        return wall, int(out.read().split()[-1]) / 1024.0, code


def token_bench():
    work = tempfile.mkdtemp(prefix="opsagent-tokens-")
    state = os.path.join(ROOT, "tests", "states", "explain")
    answer = json.dumps([{"problem": i, "cause": f"cause {i}", "fix": ["kubectl get pods"]} for i in range(1, 33)])
    script = os.path.join(work, "script.yaml")
    with open(script, "w") as f:
        f.write("replies:\n  - {content: " + json.dumps(answer) + "}\n")
    record = os.path.join(work, "requests.jsonl")
    model = subprocess.Popen([os.path.join(RELEASE, "fake-model"), "--script", script, "--record", record],
                             stdout=subprocess.PIPE, text=True)
    try:
        ready = model.stdout.readline().strip()
        if not ready.startswith("ready "):
            sys.exit(f"make bench: fake-model did not start: {ready!r}")
        env = clean_env()
        env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=ready[len("ready "):], HOME=work,
                   XDG_CACHE_HOME=os.path.join(work, "cache"), XDG_CONFIG_HOME=os.path.join(work, "config"))
        analyze = [os.path.join(RELEASE, "kubectl-ai-analyze"), "--snapshot", state, "--explain", "-o", "json"]
        runs = []
        for extra in ([], [], ["--batch", "1", "--no-cache"]):
            out = subprocess.run(analyze + extra, env=env, capture_output=True, text=True)
            if out.returncode != 1:
                sys.exit(f"make bench: analyze --explain exited {out.returncode}: {out.stderr}")
            report = json.loads(out.stdout)
            explained = sum(1 for f in report["results"] if f.get("explanation"))
            sent = json.loads(subprocess.run([os.path.join(RELEASE, "token-count"), "sent", record],
                                             capture_output=True, text=True, check=True).stdout)
            runs.append((sent, explained, len(report["results"])))
    finally:
        model.terminate()
        model.wait()
        shutil.rmtree(work, ignore_errors=True)
    k8sgpt = json.loads(subprocess.run([os.path.join(RELEASE, "token-count"), "k8sgpt", state],
                                       capture_output=True, text=True, check=True).stdout)
    (first, explained, findings), (second, explained2, _), (single, _, _) = runs
    print("state: tests/states/explain (10 identical crashing replicas + 3 other faults); model gpt-4o-mini (o200k_base)\n")
    print("| | requests | prompt tokens |")
    print("|---|---:|---:|")
    print(f"| k8sgpt `analyze --explain` (computed) | {k8sgpt['requests']} | {k8sgpt['tokens']} |")
    print(f"| `kubectl-ai-analyze --explain`, first run | {first['requests']} | {first['tokens']} |")
    print(f"| `kubectl-ai-analyze --explain`, second run (cache) | {second['requests'] - first['requests']} | {second['tokens'] - first['tokens']} |")
    print(f"| `kubectl-ai-analyze --explain --batch 1` (one request per problem) | {single['requests'] - second['requests']} | {single['tokens'] - second['tokens']} |")
    print(f"| **ratio OpsAgent (first run) / k8sgpt** | **{first['requests'] / k8sgpt['requests']:.2f}x** | **{first['tokens'] / k8sgpt['tokens']:.2f}x** |")
    print(f"\nfindings explained: {explained}/{findings} (first run), {explained2}/{findings} (second run)\n")


def start(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    ready = proc.stdout.readline().strip()
    if not ready.startswith("ready "):
        sys.exit(f"make bench: {os.path.basename(cmd[0])} did not start: {ready!r}")
    return proc, ready[len("ready "):]


def demo_fixture(work):
    """The fixture cluster on the demo state (namespace shop), and its kubeconfig."""
    kubeconfig = os.path.join(work, "kubeconfig")
    fixture, _ = start([os.path.join(RELEASE, "kube-fixture"), os.path.join(ROOT, "tests", "states", "demo"),
                        "--rebase-time", "--namespace", "shop", "--kubeconfig", kubeconfig])
    return fixture, kubeconfig


def clean_env():
    """This environment without model or OpsAgent settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_", "OLLAMA_", "OPSAGENT_"))}


def exec_bench():
    """The agent's prompt: fixed overhead and a whole question against a scripted model; then one
    `get pods -A -o json` on the 10,000-pod state, capped."""
    work = tempfile.mkdtemp(prefix="opsagent-exec-")
    call = lambda i, command: {"id": f"call_{i}", "type": "function",
                               "function": {"name": "kubectl", "arguments": json.dumps({"command": command})}}
    replies = [
        {"content": "", "tool_calls": [call(0, "get pods -n shop")]},
        {"content": "", "tool_calls": [call(1, "get events -n shop --field-selector type=Warning")]},
        {"content": "checkout and redis crash-loop, catalog cannot pull its image, search is unschedulable."},
    ]
    procs = []
    try:
        fixture, kubeconfig = demo_fixture(work)
        procs.append(fixture)
        results = []
        for name, script_replies, question, extra in (
            ("t2", replies, "what is wrong in namespace shop", []),
            ("big", [{"content": "", "tool_calls": [call(0, "get pods -A -o json")]}, {"content": "Many pods."}],
             "list every pod", None),
        ):
            script = os.path.join(work, f"{name}.json")
            with open(script, "w") as f:
                json.dump({"replies": script_replies}, f)
            record = os.path.join(work, f"{name}.jsonl")
            model, url = start([os.path.join(RELEASE, "fake-model"), "--script", script, "--record", record])
            procs.append(model)
            config = kubeconfig
            if extra is None:
                state = os.path.join(ROOT, "target", "bench", f"cluster-{PODS}.json")
                os.makedirs(os.path.dirname(state), exist_ok=True)
                if not os.path.exists(state):
                    subprocess.run([os.path.join(RELEASE, "gen-cluster"), "--pods", str(PODS), "--out", state], check=True)
                config = os.path.join(work, "big-kubeconfig")
                big, _ = start([os.path.join(RELEASE, "kube-fixture"), state, "--rebase-time", "--kubeconfig", config])
                procs.append(big)
                extra = []
            env = clean_env()
            env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=url, HOME=work, KUBECONFIG=config,
                       KUBECACHEDIR=os.path.join(work, "cache"), XDG_STATE_HOME=os.path.join(work, "state"))
            out = subprocess.run([os.path.join(RELEASE, "kubectl-ai-exec"), question, "-o", "json"] + extra,
                                 env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"make bench: exec exited {out.returncode}: {out.stderr}")
            answer = json.loads(out.stdout)
            sent = json.loads(subprocess.run([os.path.join(RELEASE, "token-count"), "sent", record],
                                             capture_output=True, text=True, check=True).stdout)
            results.append((answer, sent))
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    (t2, t2_sent), (big, big_sent) = results
    print("exec: model gpt-4o-mini (o200k_base); the fixture's demo state; a scripted model\n")
    print("| | model calls | prompt tokens |")
    print("|---|---:|---:|")
    print(f"| fixed overhead (system prompt + every tool schema) | — | {t2_sent['fixed']} |")
    print(f"| \"what is wrong in namespace shop\" (2 kubectl calls, then the answer) | {t2_sent['requests']} | {t2_sent['tokens']} |")
    raw = big["steps"][0]["output_tokens"]
    print(f"\n`get pods -A -o json` on {PODS} pods: {raw} tokens of output, {big_sent['lastToolResult']} sent "
          f"(cap: 15 % of the 128,000-token window, at most 8,000)\n")


class StdioMcp:
    """One MCP session over a server's stdin and stdout, as JSON lines."""

    def __init__(self, cmd, env):
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, text=True, bufsize=1)
        self.next = 0

    def request(self, method, params):
        self.next += 1
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}) + "\n")
        self.proc.stdin.flush()
        while True:
            message = json.loads(self.proc.stdout.readline())
            if message.get("id") == self.next:
                return message

    def notify(self, method):
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}) + "\n")
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


class HttpMcp:
    """One MCP session over streamable HTTP, on one kept-alive connection."""

    def __init__(self, url, token):
        import http.client
        import urllib.parse
        parsed = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
        self.path = parsed.path
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                        "Accept": "application/json, text/event-stream"}
        self.next = 0

    def post(self, body):
        self.conn.request("POST", self.path, json.dumps(body), self.headers)
        response = self.conn.getresponse()
        data = response.read().decode()
        session = response.getheader("Mcp-Session-Id")
        if session:
            self.headers["Mcp-Session-Id"] = session
        return response.status, data

    def request(self, method, params):
        self.next += 1
        status, data = self.post({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params})
        if status != 200:
            sys.exit(f"make bench: the MCP server answered {status}: {data}")
        for line in data.splitlines():
            if line.startswith("data:") and line[5:].strip():
                message = json.loads(line[5:])
                if message.get("id") == self.next:
                    return message
        return json.loads(data)

    def notify(self, method):
        self.post({"jsonrpc": "2.0", "method": method})

    def close(self):
        self.conn.close()


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def mcp_bench():
    """Tool-call latency over stdio and HTTP, memory across 1,000 calls, and the tool list's tokens."""
    work = tempfile.mkdtemp(prefix="opsagent-mcp-")
    procs = []
    rows = []
    try:
        fixture, kubeconfig = demo_fixture(work)
        procs.append(fixture)
        env = clean_env()
        env.update(HOME=work, KUBECONFIG=kubeconfig, KUBECACHEDIR=os.path.join(work, "cache"),
                   XDG_STATE_HOME=os.path.join(work, "state"))
        exe = os.path.join(RELEASE, "kubectl-ai-exec")
        calls = [("analyze", {"namespace": "shop"}), ("kubectl", {"command": "get pods -n shop"})]
        listed = None
        for transport in ("stdio", "http"):
            if transport == "stdio":
                server = StdioMcp([exe, "--mcp-server"], env)
                pid = server.proc.pid
            else:
                proc = subprocess.Popen([exe, "--mcp-server", "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
                procs.append(proc)
                line = proc.stderr.readline().strip()
                url, auth = line[len("MCP server on "):].split(" ", 1)
                server = HttpMcp(url, auth[len("(Authorization: Bearer "):-1])
                pid = proc.pid
            server.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                          "clientInfo": {"name": "bench", "version": "1"}})
            server.notify("notifications/initialized")
            listed = server.request("tools/list", {})["result"]["tools"]
            for name, arguments in calls:
                server.request("tools/call", {"name": name, "arguments": arguments})  # warm
                times = []
                for _ in range(CALLS):
                    begin = time.perf_counter()
                    answer = server.request("tools/call", {"name": name, "arguments": arguments})
                    times.append((time.perf_counter() - begin) * 1000)
                    if answer.get("result", {}).get("isError"):
                        sys.exit(f"make bench: {name} failed: {answer}")
                times.sort()
                rows.append((transport, name, statistics.median(times), times[int(len(times) * 0.99) - 1]))
            before = rss_mib(pid)
            for i in range(1000):
                name, arguments = calls[i % 2]
                server.request("tools/call", {"name": name, "arguments": arguments})
            after = rss_mib(pid)
            rows.append((transport, "rss", before, after))
            server.close()
        tools_file = os.path.join(work, "tools.json")
        with open(tools_file, "w") as f:
            json.dump(listed, f)
        counted = json.loads(subprocess.run([os.path.join(RELEASE, "token-count"), "text", tools_file],
                                            capture_output=True, text=True, check=True).stdout)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"mcp: kubectl-ai-exec --mcp-server on the demo state; {CALLS} calls each after one warm-up\n")
    print("| transport | tool call | median ms | p99 ms |")
    print("|---|---|---:|---:|")
    for transport, name, median, p99 in rows:
        if name != "rss":
            shown = "analyze namespace shop" if name == "analyze" else "kubectl get pods -n shop"
            print(f"| {transport} | {shown} | {median:.1f} | {p99:.1f} |")
    print("\n| transport | RSS before 1,000 calls (MiB) | after (MiB) |")
    print("|---|---:|---:|")
    for transport, name, before, after in rows:
        if name == "rss":
            print(f"| {transport} | {before:.1f} | {after:.1f} |")
    print(f"\ntool list: {len(listed)} tools, {counted['tokens']} tokens (o200k_base; target at most 1,500)\n")


def main():
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("make bench: GNU time is required to measure peak RSS (Debian: apt-get install time)")
    which = os.environ.get("BENCH", "all")
    if which in ("all", "tokens"):
        token_bench()
    if which in ("all", "exec"):
        exec_bench()
    if which in ("all", "mcp"):
        mcp_bench()
    if which in ("all", "ui"):
        ui_bench()
    if which in ("all", "scale"):
        scale_bench()
    if which in ("all", "watch"):
        watch_bench()


def ui_bench():
    """The page's weight, and the time to the first answer on the demo state, page and terminal."""
    import gzip
    import http.client
    work = tempfile.mkdtemp(prefix="opsagent-ui-")
    call = {"id": "c1", "type": "function", "function": {"name": "kubectl", "arguments": json.dumps({"command": "get pods -n shop"})}}
    script = os.path.join(work, "script.json")
    with open(script, "w") as f:
        json.dump({"replies": [{"content": "", "tool_calls": [call]},
                               {"content": "checkout and redis crash-loop; catalog cannot pull its image."}]}, f)
    procs = []
    page_first, page_answer, terminal = [], [], []
    weight = {}
    try:
        fixture, kubeconfig = demo_fixture(work)
        procs.append(fixture)
        for run in range(RUNS):
            for mode in ("page", "terminal"):
                model, url = start([os.path.join(RELEASE, "fake-model"), "--script", script,
                                    "--record", os.path.join(work, f"{mode}-{run}.jsonl")])
                env = clean_env()
                env.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=url, HOME=work, KUBECONFIG=kubeconfig,
                           KUBECACHEDIR=os.path.join(work, "cache"), XDG_STATE_HOME=os.path.join(work, "state"))
                exe = os.path.join(RELEASE, "kubectl-ai-exec")
                if mode == "terminal":
                    started = time.monotonic()
                    out = subprocess.run([exe, "what is wrong in shop?"], env=env, capture_output=True, text=True)
                    terminal.append(time.monotonic() - started)
                    if out.returncode != 0:
                        sys.exit(f"make bench: exec exited {out.returncode}: {out.stderr}")
                else:
                    server = subprocess.Popen([exe, "--ui", "--no-browser"], env=env, stderr=subprocess.PIPE, text=True)
                    line = server.stderr.readline().strip()
                    if not line.startswith("exec's page: "):
                        sys.exit(f"make bench: exec --ui did not start: {line!r}")
                    page = line[len("exec's page: "):]
                    base, token = page.split("/#token=")
                    host = base[len("http://"):]
                    conn = http.client.HTTPConnection(*host.split(":"))
                    if not weight:
                        for path in ("/", "/app.js", "/app.css"):
                            conn.request("GET", path, headers={"Host": host})
                            body = conn.getresponse().read()
                            weight[path] = (len(body), len(gzip.compress(body, 9)))
                    conn.request("POST", "/api/login", headers={"Host": host, "Origin": base, "Authorization": "Bearer " + token})
                    response = conn.getresponse()
                    response.read()
                    cookie = response.getheader("Set-Cookie").split(";")[0]
                    body = json.dumps({"question": "what is wrong in shop?"})
                    started = time.monotonic()
                    conn.request("POST", "/api/ask", body, headers={"Host": host, "Origin": base, "Cookie": cookie,
                                                                    "Content-Type": "application/json"})
                    response = conn.getresponse()
                    first = None
                    while True:
                        raw = response.readline()
                        if not raw:
                            break
                        text = raw.decode().strip()
                        if not text.startswith("data: "):
                            continue
                        event = json.loads(text[6:])
                        if event["type"] == "text" and first is None:
                            first = time.monotonic() - started
                        if event["type"] in ("answer", "error"):
                            if event["type"] == "error":
                                sys.exit(f"make bench: the page's question failed: {event['message']}")
                            page_answer.append(time.monotonic() - started)
                            break
                    page_first.append(first if first is not None else page_answer[-1])
                    conn.close()
                    server.terminate()
                    server.wait()
                model.terminate()
                model.wait()
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
    ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms"
    total = sum(w[0] for w in weight.values())
    print(f"ui: exec --ui on the demo state, {RUNS} runs interleaved with the terminal; a scripted model\n")
    print("| file | bytes | gzipped |")
    print("|---|---:|---:|")
    for path, (raw, packed) in weight.items():
        print(f"| {path} | {raw:,} | {packed:,} |")
    print(f"| **page** | **{total:,}** | **{sum(w[1] for w in weight.values()):,}** |\n")
    print("| question → | median |")
    print("|---|---:|")
    print(f"| page: first streamed text | {ms(page_first)} |")
    print(f"| page: the answer | {ms(page_answer)} |")
    print(f"| terminal: `kubectl-ai-exec \"…\"`, the whole process | {ms(terminal)} |")
    print(f"\npage answer / terminal: {statistics.median(page_answer) / statistics.median(terminal):.2f}x\n")


def watch_bench():
    """Memory of a long watch: RSS at runs 10 ... WATCH_RUNS, for analyze and audit."""
    import http.server
    import threading

    runs = int(os.environ.get("WATCH_RUNS", "1000"))
    marks = sorted({m for m in (10, 100, 250, 500, 750, runs) if m <= runs})
    work = tempfile.mkdtemp(prefix="opsagent-watch-")
    received = [0]

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received[0] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    fixture, kubeconfig = demo_fixture(work)
    print(f"\n== watch: {runs} runs back to back on the demo state (RSS in MiB at run N)")
    try:
        env = clean_env()
        env.update(HOME=work, KUBECONFIG=kubeconfig, KUBECACHEDIR=os.path.join(work, "cache"))
        for plugin in ("analyze", "audit"):
            cmd = [os.path.join(RELEASE, f"kubectl-ai-{plugin}"), "-A", "--watch", "0s", "--force",
                   "--watch-runs", str(runs + 1), "--metrics-addr", "127.0.0.1:0",
                   "--notify", f"http://127.0.0.1:{hook.server_address[1]}/hook",
                   "--state-file", os.path.join(work, f"{plugin}-state.json")]
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=env, text=True)
            samples = {}
            started = time.monotonic()
            for line in proc.stderr:
                if line.startswith("run "):
                    n = int(line.split()[1].rstrip(":"))
                    if n in marks:
                        samples[n] = rss_mib(proc.pid)
                    if n == runs:
                        elapsed = time.monotonic() - started
                        break
            proc.terminate()
            proc.wait()
            if len(samples) != len(marks):
                sys.exit(f"make bench: the {plugin} watch stopped early: {samples}")
            row = "  ".join(f"{n}: {samples[n]:.1f}" for n in marks)
            growth = samples[marks[-1]] / samples[marks[0]]
            print(f"{plugin:8} {row}  (run {marks[-1]} / run {marks[0]}: {growth:.3f}x; "
                  f"{elapsed / runs * 1000:.1f} ms per run)")
        print(f"webhook messages received: {received[0]} (only changes: the first run of each plugin)")
    finally:
        fixture.terminate()
        fixture.wait()
        hook.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def scale_bench():
    """The scale bench at each size of BENCH_PODS (comma-separated), then the growth from the
    smallest to the largest."""
    sizes = [int(p) for p in os.environ.get("BENCH_PODS", "10000,50000,150000").split(",") if p.strip()]
    results = {}
    for i, pods in enumerate(sizes):
        # Fewer runs of the larger states (each takes minutes); kubectl only up to 50,000 pods (it
        # needs several GiB and minutes beyond).
        runs = RUNS if i == 0 else max(1, RUNS // 3)
        results[pods] = scale_run(pods, runs, with_kubectl=pods <= 50000, counts=i == 0)
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\n### Growth {small:,} -> {large:,} pods ({large / small:.0f}x the objects)\n")
        print("| command | wall time | peak RSS |")
        print("|---|---:|---:|")
        for name in results[large]:
            if name in results[small]:
                (w0, r0), (w1, r1) = results[small][name], results[large][name]
                print(f"| {name} | {w1 / w0:.1f}x | {r1 / r0:.1f}x |")
        a, b = results[large].get("audit (file)"), results[large].get("analyze (file)")
        if a and b:
            print(f"\naudit / analyze at {large:,} pods (file): {a[0] / b[0]:.2f}x the wall time")


def scale_run(pods, runs, with_kubectl, counts):
    work = tempfile.mkdtemp(prefix="opsagent-bench-")
    state = os.path.join(ROOT, "target", "bench", f"cluster-{pods}.json")
    os.makedirs(os.path.dirname(state), exist_ok=True)
    if not os.path.exists(state):
        subprocess.run([os.path.join(RELEASE, "gen-cluster"), "--pods", str(pods), "--out", state], check=True)
    kubeconfig = os.path.join(work, "kubeconfig")
    access = os.path.join(work, "access.jsonl")
    fixture = subprocess.Popen(
        [os.path.join(RELEASE, "kube-fixture"), state, "--rebase-time", "--kubeconfig", kubeconfig, "--access-log", access],
        stdout=subprocess.PIPE, text=True)
    try:
        ready = fixture.stdout.readline().strip()
        if not ready.startswith("ready "):
            sys.exit(f"make bench: kube-fixture did not start: {ready!r}")
        env = dict(os.environ, KUBECONFIG=kubeconfig, KUBECACHEDIR=os.path.join(work, "cache"), HOME=work)
        analyze = [os.path.join(RELEASE, "kubectl-ai-analyze"), "-A", "-o", "json"]
        audit_json = [os.path.join(RELEASE, "kubectl-ai-audit"), "-A", "-o", "json"]

        # One untimed run: check it works, count its findings, and learn which kinds it lists.
        out = subprocess.run(analyze, env=env, capture_output=True, text=True)
        if out.returncode not in (0, 1):
            sys.exit(f"make bench: analyze failed ({out.returncode}): {out.stderr}")
        report = json.loads(out.stdout)
        resources = []
        with open(access) as f:
            for line in f:
                r = json.loads(line)
                parts = r["path"].strip("/").split("/")
                if r["method"] != "GET" or "continue" in r["query"] or "limit" not in r["query"]:
                    continue
                plural = parts[-1]
                group = parts[1] if parts[0] == "apis" else ""
                name = f"{plural}.{group}" if group else plural
                if name not in resources:
                    resources.append(name)
        kubectl = [kubectl_binary(), "get", ",".join(resources), "-A", "-o", "json"]
        items = None
        if with_kubectl:
            # Warm kubectl's discovery cache, and count what it prints.
            listed = subprocess.run(kubectl, env=env, capture_output=True, text=True)
            if listed.returncode != 0:
                sys.exit(f"make bench: kubectl failed: {listed.stderr}")
            items = len(json.loads(listed.stdout)["items"])

        # The audit of the same cluster: how long its default text is (one entry per check) next to
        # its JSON findings (one per object) and --details.
        audit_lines, audit_findings = {}, None
        if counts:
            audit = [os.path.join(RELEASE, "kubectl-ai-audit"), "-A"]
            for name, extra in (("text", []), ("details", ["--details"])):
                out = subprocess.run(audit + extra, env=env, capture_output=True, text=True)
                if out.returncode not in (0, 1):
                    sys.exit(f"make bench: audit failed ({out.returncode}): {out.stderr}")
                audit_lines[name] = len(out.stdout.splitlines())
            out = subprocess.run(audit_json, env=env, capture_output=True, text=True)
            audit_findings = len(json.loads(out.stdout)["findings"])

        # Live (against the fixture cluster) and from the file (--snapshot, streamed item by item).
        # The audit of the file exits 4: the state holds no RBAC kinds, so those checks do not run.
        commands = {
            "analyze (live)": analyze,
            "audit (live)": audit_json,
            "analyze (file)": [os.path.join(RELEASE, "kubectl-ai-analyze"), "--snapshot", state, "-A", "-o", "json"],
            "audit (file)": [os.path.join(RELEASE, "kubectl-ai-audit"), "--snapshot", state, "-A", "-o", "json"],
        }
        if with_kubectl:
            commands["kubectl get (live)"] = kubectl
        samples = {name: [] for name in commands}
        for _ in range(runs):
            for name, cmd in commands.items():
                wall, rss, code = measure(cmd, env)
                if code not in (0, 1, 4):
                    sys.exit(f"make bench: {name} exited {code}")
                samples[name].append((wall, rss))
    finally:
        fixture.terminate()
        fixture.wait()
        shutil.rmtree(work, ignore_errors=True)

    med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in samples.items()}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"\n### {pods:,} pods\n")
    print(f"machine: {os.cpu_count()} cores, {cpu}; {platform.system()} {platform.release()}")
    listed = f"kubectl listed {items} objects of {len(resources)} kinds" if items else f"{len(resources)} kinds"
    print(f"state: {pods} pods in 50 namespaces, {os.path.getsize(state) / 1e6:.1f} MB of JSON; {listed}; "
          f"analyze reported {report['summary']['problems']} problems")
    print(f"runs: {runs} of each, interleaved; medians\n")
    print("| command | wall time (s) | peak RSS (MiB) |")
    print("|---|---:|---:|")
    for name, (wall, rss) in med.items():
        print(f"| {name} | {wall:.2f} | {rss:.0f} |")
    if with_kubectl:
        a, k = med["analyze (live)"], med["kubectl get (live)"]
        print(f"| ratio analyze / kubectl (live) | {a[0] / k[0]:.2f}x | {a[1] / k[1]:.2f}x |")
    print(f"\nkinds: {','.join(resources)}")
    if counts:
        print(f"\n`kubectl-ai-audit -A`: {audit_findings} findings (JSON), {audit_lines['text']} lines of text by default, "
              f"{audit_lines['details']} with --details")
    return med


if __name__ == "__main__":
    main()
