# OpsAgent: the two commands of a fresh machine are `make demo` and `make test`.

CARGO  ?= cargo
PREFIX ?= $(HOME)/.local/bin
PLUGINS := kubectl-ai-analyze kubectl-ai-audit kubectl-ai-gen kubectl-ai-exec

.PHONY: all build demo test conformance bench lint fmt fmt-check clippy release install uninstall clean

all: build

## build: every binary of the workspace (the plugins and kube-fixture), debug profile
build:
	$(CARGO) build --workspace --bins

## demo: serve the bundled demo state with the fixture cluster and run the plugins against it
demo: build
	tests/demo.sh

## test: every test (unit, integration against the fixture cluster and the real kubectl, snapshots)
# The integration tests run the plugin binaries, so they are built first (nextest only builds tests).
test: build
	@command -v kubectl >/dev/null 2>&1 || { echo "make test: kubectl is required: the integration tests run the real kubectl against the fixture cluster" >&2; exit 1; }
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace; \
	else \
		echo "make test: cargo-nextest not found, using cargo test"; \
		$(CARGO) test --workspace --lib --bins --tests; \
	fi
	$(CARGO) test --workspace --doc

## conformance: the audit over the peers' own test data in ../shared/conformance/audit (PSA, Polaris, kube-score, kubesec, trivy KSV); agreement per corpus (-v: every disagreement)
conformance: build
	$(CARGO) run -q -p opsagent-tests --bin conformance -- $(if $(V),-v)

## bench: explain tokens vs k8sgpt; the exec prompt; analyze vs kubectl on a 10,000-pod fixture cluster (BENCHMARKS.md; BENCH=tokens|exec|scale for one)
bench:
	$(CARGO) build --release -p kubectl-ai-analyze -p kubectl-ai-exec -p opsagent-tests --bins
	python3 tests/bench/bench.py

## lint: formatting and clippy, as CI runs them
lint: fmt-check clippy

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## release: optimised plugin binaries in target/release
release:
	$(CARGO) build --release $(addprefix -p ,$(PLUGINS))

## install: the four plugins into $(PREFIX) (default ~/.local/bin); kubectl finds them on PATH
install: release
	install -d "$(PREFIX)"
	install -m 0755 $(addprefix target/release/,$(PLUGINS)) "$(PREFIX)/"
	@case ":$$PATH:" in *":$(PREFIX):"*) ;; *) echo "note: $(PREFIX) is not on PATH; add it so that kubectl finds the plugins";; esac

uninstall:
	rm -f $(addprefix "$(PREFIX)"/,$(PLUGINS))

clean:
	$(CARGO) clean
