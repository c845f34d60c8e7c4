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
