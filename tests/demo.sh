#!/usr/bin/env bash
# make demo: serve the bundled demo state with the fixture cluster, run the plugins against it
# through a kubeconfig (as a user would), then stop the server.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN_DIR:-$root/target/debug}
work=$(mktemp -d)
fixture_pid=
cleanup() {
    local status=$?
    if [ -n "$fixture_pid" ]; then
        kill "$fixture_pid" 2>/dev/null || true
        wait "$fixture_pid" 2>/dev/null || true
    fi
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
printf '\n(The state analyzed above was also dumped and can be analyzed offline with --snapshot.)\n'
run kubectl ai analyze --snapshot "$work/shop.yaml" -o markdown || true
status=0
run kubectl ai audit -A --severity high --fail-on critical || status=$?
# 1 means "a finding at or above --fail-on": the demo cluster has some, on purpose.
[ "$status" -le 1 ] || exit "$status"
