#!/usr/bin/env bash
# make demo: serve the bundled demo state with the fixture cluster, run the plugins against it
# through a kubeconfig (as a user would), then stop the server.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN_DIR:-$root/target/debug}
work=$(mktemp -d)
fixture_pid=
model_pid=
cleanup() {
    local status=$?
    for pid in $fixture_pid $model_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT

command -v kubectl >/dev/null || { echo "make demo: kubectl is required" >&2; exit 1; }

"$bin/kube-fixture" "$root/tests/states/demo" --rebase-time --context demo --namespace shop \
    --kubeconfig "$work/kubeconfig" >"$work/ready" &
fixture_pid=$!
for _ in $(seq 100); do
    grep -q '^ready ' "$work/ready" 2>/dev/null && break
    sleep 0.1
done
grep -q '^ready ' "$work/ready" || { echo "make demo: the fixture cluster did not start" >&2; exit 1; }

export KUBECONFIG="$work/kubeconfig" KUBECACHEDIR="$work/cache" PATH="$bin:$PATH"
bold='' plain=''
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
run() {
    printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"
    "$@"
}
echo "Fixture cluster: $(sed 's/^ready //' "$work/ready") (context demo, namespace shop)"
run kubectl get pods -n shop
status=0
run kubectl ai analyze -A || status=$?
# 1 means "problems found": that is the point of the demo.
[ "$status" -le 1 ] || exit "$status"
run kubectl ai analyze -n shop -l app=checkout -o json --dump "$work/shop.yaml" >/dev/null || true
printf '\nThe dump holds the state that was read (Secret values are never written, only their keys):\n'
grep -E '^kind: ' "$work/shop.yaml" | sort | uniq -c
run kubectl ai analyze --snapshot "$work/shop.yaml" -o markdown || true
status=0
run kubectl ai audit -A --severity high --fail-on critical || status=$?
# 1 means "a finding at or above --fail-on": the demo cluster has some, on purpose.
[ "$status" -le 1 ] || exit "$status"

# In the cluster: re-run on an interval, one line per run (docs/operations.md: /metrics, Alertmanager).
run kubectl ai analyze -A --watch 1s --force --watch-runs 2
run kubectl ai analyze -A -o json --metrics-file "$work/opsagent.prom" >/dev/null || true
printf '
The metrics for Prometheus (node-exporter textfile; --metrics-addr serves them live):
'
grep -E '^opsagent_findings' "$work/opsagent.prom"

# gen and exec need a model. Here it is OpsAgent's fake model, a local test server with scripted
# answers (tests/demo/model-script.yaml): the requests show what would be sent, and nothing leaves
# the machine. With a real provider: export OPENAI_API_KEY (docs/configuration.md).
"$bin/fake-model" --script "$root/tests/demo/model-script.yaml" --record "$work/model.jsonl" >"$work/model-ready" &
model_pid=$!
for _ in $(seq 100); do
    grep -q '^ready ' "$work/model-ready" 2>/dev/null && break
    sleep 0.1
done
grep -q '^ready ' "$work/model-ready" || { echo "make demo: the fake model did not start" >&2; exit 1; }
export OPENAI_BASE_URL="$(sed 's/^ready //' "$work/model-ready")" OPENAI_API_KEY=demo-key-not-a-real-one
unset AZURE_OPENAI_ENDPOINT OLLAMA_HOST OPSAGENT_PROFILE OPSAGENT_CONFIG
export XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache" XDG_STATE_HOME="$work/state"
printf '\n%s(gen and exec below talk to the fake model at %s: scripted answers, not a real model)%s\n' \
    "$bold" "$OPENAI_BASE_URL" "$plain"
run kubectl ai gen "a redis cache with 2 replicas behind a service" -n shop --dry-run | head -n 12
printf '…\n'
run kubectl ai gen "a redis cache with 2 replicas behind a service" -n shop
run kubectl ai exec -n shop -v "which pods of shop are not running?"
printf '\n(gen checked the manifests with a server-side dry run; nothing was applied: --apply asks first.)\n'

# The same tools for another agent (Claude Code, Cursor, VS Code …): exec as an MCP server on
# stdio. Here three JSON-RPC requests stand in for the agent: list the tools, a read, a change.
printf '\n%s$ kubectl ai exec --mcp-server -n shop    # an agent'"'"'s requests on stdin (docs/mcp.md)%s\n' "$bold" "$plain"
mcp_requests='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}}
{"jsonrpc":"2.0","method":"notifications/initialized"}
{"jsonrpc":"2.0","id":2,"method":"tools/list"}
{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"kubectl","arguments":{"command":"get pods -l app=checkout"}}}
{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"kubectl","arguments":{"command":"delete pod -l app=checkout"}}}'
mcp_answers=$(printf '%s\n' "$mcp_requests" | kubectl ai exec --mcp-server -n shop)
if command -v python3 >/dev/null; then
    printf '%s\n' "$mcp_answers" | python3 -c '
import json, sys
answers = {m.get("id"): m.get("result", {}) for m in map(json.loads, sys.stdin)}
print("tools:", ", ".join(t["name"] for t in answers[2]["tools"]))
for i, asked in ((3, "kubectl get pods -l app=checkout"), (4, "kubectl delete pod -l app=checkout")):
    print(f"\n{asked} →" + (" (refused)" if answers[i].get("isError") else ""))
    print(answers[i]["content"][0]["text"])'
else
    printf '%s\n' "$mcp_answers" | cut -c1-200
fi
