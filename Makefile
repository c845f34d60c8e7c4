# OpsAgent: the two commands of a fresh machine are `make demo` and `make test`.

CARGO  ?= cargo
PREFIX ?= $(HOME)/.local/bin
PLUGINS := kubectl-ai-analyze kubectl-ai-audit kubectl-ai-gen kubectl-ai-exec

.PHONY: all build demo test mcp-python monitoring browser conformance bench dist deny fuzz lint fmt fmt-check clippy release install uninstall clean

all: build

## build: every binary of the workspace (the plugins and kube-fixture), debug profile
build:
	$(CARGO) build --workspace --bins

## demo: serve the bundled demo state with the fixture cluster and run the plugins against it
demo: build
	tests/demo.sh

## mcp-python: the official Python MCP SDK in target/mcp-python, an independent client for the MCP server's tests
MCP_PYTHON := target/mcp-python
MCP_SDK    := mcp==1.30.0
mcp-python:
	@if [ ! -x $(MCP_PYTHON)/bin/python ] || ! $(MCP_PYTHON)/bin/python -c 'import mcp' 2>/dev/null; then \
		{ python3 -m venv $(MCP_PYTHON) && $(MCP_PYTHON)/bin/pip install -q --disable-pip-version-check "$(MCP_SDK)"; } \
		|| { rm -rf $(MCP_PYTHON); echo "make: the Python MCP SDK ($(MCP_SDK)) could not be installed: its test will say skipped" >&2; }; \
	fi

## monitoring: Debian's prometheus (with promtool) and prometheus-alertmanager, the real peers of the
## watch mode's tests (installed when missing; their tests say skipped where they cannot be)
APT_MONITORING := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null 2>&1
monitoring:
	@if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus-alertmanager >/dev/null 2>&1; then \
		{ command -v apt-get >/dev/null 2>&1 && { $(APT_MONITORING) || { apt-get update -qq >/dev/null 2>&1 && $(APT_MONITORING); }; }; } \
		|| echo "make: prometheus and prometheus-alertmanager (Debian packages) could not be installed: the watch mode's tests against them will say skipped" >&2; \
	fi

## browser: Debian's chromium and chromium-driver, the real browser of exec --ui's tests (installed
## when missing; the test says skipped where they cannot be)
APT_BROWSER := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		{ command -v apt-get >/dev/null 2>&1 && { $(APT_BROWSER) || { apt-get update -qq >/dev/null 2>&1 && $(APT_BROWSER); }; }; } \
		|| echo "make: chromium and chromium-driver (Debian packages) could not be installed: the browser test of exec --ui will say skipped" >&2; \
	fi

## test: every test (unit, integration against the fixture cluster and the real kubectl, snapshots)
# The integration tests run the plugin binaries, so they are built first (nextest only builds tests).
test: build mcp-python monitoring browser
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

## bench: explain tokens vs k8sgpt; the exec prompt; MCP tool-call latency and memory; the exec --ui page weight and time to an answer; analyze and audit at 10k, 50k and 150k pods, live and from a file, vs kubectl; memory of a 1,000-run watch (BENCHMARKS.md; BENCH=tokens|exec|mcp|ui|scale|watch for one; BENCH_PODS=10000 for one size)
bench:
	@test -x /usr/bin/time || { command -v apt-get >/dev/null && apt-get install -y -qq time >/dev/null; } \
		|| { echo "make bench: GNU time (Debian package time) is needed to measure peak RSS and could not be installed" >&2; exit 1; }
	$(CARGO) build --release -p kubectl-ai-analyze -p kubectl-ai-audit -p kubectl-ai-exec -p opsagent-tests --bins
	python3 tests/bench/bench.py

## fuzz: each cargo-fuzz target (fuzz/) for FUZZ_TIME seconds from its seed corpus; needs nightly and cargo-fuzz
# No sanitizer by default: the code is safe Rust (unsafe_code is forbidden), so AddressSanitizer finds
# nothing and only slows the build; panics, hangs (-timeout) and memory blow-ups (-rss_limit_mb) are
# what the targets look for. FUZZ_FLAGS="--dev" builds faster, FUZZ_FLAGS="-s address" adds ASan.
FUZZ_TIME    ?= 60
FUZZ_FLAGS   ?= --sanitizer none
FUZZ_TARGETS := reply yaml pipeline snapshot redaction
fuzz:
	@if ! $(CARGO) +nightly fuzz --version >/dev/null 2>&1; then \
		echo "make fuzz: skipped: needs a nightly toolchain and cargo-fuzz (rustup toolchain install nightly; cargo install cargo-fuzz); make test runs the seed corpus"; \
		exit 0; \
	fi; \
	for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t for $(FUZZ_TIME)s"; \
		mkdir -p fuzz/artifacts/corpus/$$t; \
		$(CARGO) +nightly fuzz run $(FUZZ_FLAGS) $$t fuzz/artifacts/corpus/$$t fuzz/corpus/$$t -- \
			-max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 || exit 1; \
	done

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

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
OS      := $(shell uname -s | tr A-Z a-z)
ARCH    := $(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
STAGE   := dist/opsagent-v$(VERSION)-$(OS)-$(ARCH)

## dist: a release archive for this machine (plugins, completions, man pages, licence), its sha256, and the krew manifests rendered for it in dist/krew/ (DIST_PROFILE=dev packages the debug build, stripped: the packaging checked without the release build, as CI does)
DIST_PROFILE ?= release
DIST_BIN     := target/$(if $(filter dev,$(DIST_PROFILE)),debug,release)
dist: $(if $(filter dev,$(DIST_PROFILE)),build,release)
	rm -rf "$(STAGE)" && mkdir -p "$(STAGE)/completions" "$(STAGE)/man"
	for p in $(PLUGINS); do \
		install -m 0755 $(if $(filter dev,$(DIST_PROFILE)),-s) "$(DIST_BIN)/$$p" "$(STAGE)/" && \
		for sh in bash zsh fish; do "$(DIST_BIN)/$$p" --completions $$sh > "$(STAGE)/completions/$$p.$$sh"; done && \
		"$(DIST_BIN)/$$p" --man-page > "$(STAGE)/man/$$p.1"; \
	done
	cp README.md LICENSE "$(STAGE)/" 2>/dev/null || cp README.md "$(STAGE)/"
	tar -C dist -czf "$(STAGE).tar.gz" "$(notdir $(STAGE))"
	cd dist && sha256sum "$(notdir $(STAGE)).tar.gz" > "$(notdir $(STAGE)).tar.gz.sha256"
	python3 krew-manifests/render.py dist "$(VERSION)"

## deny: licences and advisories of the dependency tree (when cargo-deny is installed)
deny:
	@if $(CARGO) deny --version >/dev/null 2>&1; then $(CARGO) deny check; else echo "make deny: cargo-deny is not installed (cargo install cargo-deny)"; fi

## install: the four plugins into $(PREFIX) (default ~/.local/bin); kubectl finds them on PATH. KREW_NAMES=1 also links krew's spellings (kubectl-ai_analyze: `kubectl ai-analyze`)
KREW_NAMES ?=
install: release
	install -d "$(PREFIX)"
	install -m 0755 $(addprefix target/release/,$(PLUGINS)) "$(PREFIX)/"
	@if [ -n "$(KREW_NAMES)" ]; then \
		for p in $(PLUGINS); do ln -sf "$$p" "$(PREFIX)/$$(echo $$p | sed 's/^kubectl-ai-/kubectl-ai_/')"; done; \
	fi
	@case ":$$PATH:" in *":$(PREFIX):"*) ;; *) echo "note: $(PREFIX) is not on PATH; add it so that kubectl finds the plugins";; esac

uninstall:
	rm -f $(addprefix "$(PREFIX)"/,$(PLUGINS)) $(addprefix "$(PREFIX)"/,$(subst kubectl-ai-,kubectl-ai_,$(PLUGINS)))

clean:
	$(CARGO) clean
