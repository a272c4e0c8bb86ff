# make demo      the sign-up flow, the live data path and the web app, on local stand-ins for AWS
# make up        the local stack and the web app, kept running on 127.0.0.1 until Ctrl-C
# make test      every check: format, lint, unit tests, integration tests, the template's proofs;
#                prints how long each part took, and names the part that failed
# make check     the fast loop while coding: format, lint (Rust, Python, JS/TS), unit tests, the
#                template's rules and policy cases; no local stack
# make watch     cargo lambda watch on the local stack, for cargo lambda invoke --data-file events/...
# make invoke    send each sample event in events/ to the function
# make build     the Lambda artifact: target/lambda/provision-tenant/bootstrap(.zip)
# make bench     start-up and cost against floors and peers (bench/), sign-up latency, a 1,000-user
#                burst, and the tenant API's handler against an echo
# make fuzz      libFuzzer over both triggers' event handling (FUZZ_SECONDS, default 600)
# make mutants   cargo-mutants over the library with the unit tests (MUTANTS_FILES to narrow)
# make deploy    sam build, then sam deploy (guided the first time); LAMBDA_ARCH=arm64 for Graviton
#
# Everything installs into ignored folders of this repo (.venv, .venv-checkov, node_modules,
# .local), once.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(CURDIR)/.local/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# For the offline steps only (sam build, the SAM transform): they want a region to exist. Never
# exported, so that `make deploy` uses the region of the user's own profile.
OFFLINE_REGION := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}

FUNCTION := provision-tenant
API_FUNCTION := tenant-api
# cargo and cargo lambda write under CARGO_TARGET_DIR when it is set.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BOOTSTRAP := $(TARGET_DIR)/lambda/$(FUNCTION)/bootstrap
API_BOOTSTRAP := $(TARGET_DIR)/lambda/$(API_FUNCTION)/bootstrap
LOCAL_AWS := LAMBDA_ARTIFACT=$(abspath $(BOOTSTRAP)) LAMBDA_API_ARTIFACT=$(abspath $(API_BOOTSTRAP)) local/aws.sh
TEMPLATE := template.yaml
TRANSFORMED := $(TARGET_DIR)/template/transformed.json
# One variable for the CPU: the build's Rust target and the stack's Architecture parameter
# (make deploy passes the binary's own, and pins the built template to it).
LAMBDA_ARCH ?= x86_64
RUST_TARGET := $(if $(filter arm64,$(LAMBDA_ARCH)),aarch64,x86_64)-unknown-linux-gnu
# provided.al2023 has glibc 2.34. cargo lambda links through zig against exactly that glibc,
# whatever the build host has (a host glibc >= 2.38 would otherwise leak __isoc23_* symbols:
# aws-lambda-rust-runtime issue 932), and scripts/lambda_artifact.py refuses a binary that
# needs a newer symbol or is for another CPU.
LAMBDA_GLIBC := 2.34
CARGO_LAMBDA_BUILD := cargo lambda build --release --target $(RUST_TARGET).$(LAMBDA_GLIBC) \
  --bin $(FUNCTION) --bin $(API_FUNCTION)

.DELETE_ON_ERROR:
.PHONY: all tools build test check style rules policy watch mutants lint unit local-checks integration live deploy-checks template-checks \
        template-mutations sam-build demo up web browser invoke bench bench-startup bench-floors bench-checks fuzz deploy clean
all: test

# The Python tools go in with uv (pinned; its cache in .local): from a clean clone it installs
# them in about a quarter of pip's time, the same pinned versions.
# uv reads none of pip's settings: its time-out is set as generous as pip's here.
UV := UV_CACHE_DIR=$(CURDIR)/.local/uv-cache UV_HTTP_TIMEOUT=180 .venv/bin/uv
.venv/.installed: requirements-dev.txt
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(UV) pip install --quiet --compile-bytecode --python .venv/bin/python -r requirements-dev.txt
	# --no-deps: cargo-lambda would take the newest zig; requirements-dev.txt pins the one tested.
	$(UV) pip install --quiet --compile-bytecode --python .venv/bin/python --no-deps cargo-lambda==1.9.2
	touch $@

.venv-checkov/.installed: requirements-checkov.txt .venv/.installed
	python3 -m venv .venv-checkov
	$(UV) pip install --quiet --compile-bytecode --python .venv-checkov/bin/python -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $@

# The browser app (web/): type-checked, then built by Vite into web/dist.
WEB_SOURCES := $(wildcard web/src/*) web/index.html web/vite.config.ts web/tsconfig.json
web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	npm run --prefix web build

web: web/dist/index.html

# The browser tests need Chromium or Chrome. Where none is found and this can install Debian's
# chromium (root, apt-get: as on CI), it does; otherwise it says what to install.
browser: node_modules/.installed
	@node --input-type=module -e "import('./tests/web/browser.mjs').then((m) => m.findChromium())" 2>/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium or Chrome: install Debian's chromium (apt-get install chromium), or set CHROMIUM_PATH" >&2; \
	    exit 1; \
	  fi; }

# Unoptimised (--debug, no debug info): it builds in well under half the time of a release
# build, and checks the template in about a second. Without debug assertions or overflow
# checks, which a release build has not either: a panic there would read as a failed rule.
.local/bin/cfn-guard:
	CARGO_PROFILE_DEV_DEBUG=false CARGO_PROFILE_DEV_DEBUG_ASSERTIONS=false CARGO_PROFILE_DEV_OVERFLOW_CHECKS=false \
	  cargo install cfn-guard --version 3.2.1 --locked --quiet --debug --root .local

.local/bin/cargo-mutants:
	cargo install cargo-mutants --version 27.1.0 --locked --quiet --root .local

.local/bin/cargo-fuzz:
	cargo install cargo-fuzz --version 0.13.2 --locked --quiet --root .local

tools: .venv/.installed .venv-checkov/.installed node_modules/.installed .local/bin/cfn-guard

build: .venv/.installed
	@case "$(LAMBDA_ARCH)" in x86_64|arm64) ;; *) echo "LAMBDA_ARCH is x86_64 or arm64, not '$(LAMBDA_ARCH)'" >&2; exit 1 ;; esac
	@[ -d "$$(rustc --print sysroot)/lib/rustlib/$(RUST_TARGET)" ] || { \
	  echo "LAMBDA_ARCH=$(LAMBDA_ARCH) needs the Rust target $(RUST_TARGET): rustup target add $(RUST_TARGET)" >&2; exit 1; }
	$(CARGO_LAMBDA_BUILD)
	$(CARGO_LAMBDA_BUILD) --output-format zip
	@ls -l $(BOOTSTRAP).zip $(API_BOOTSTRAP).zip | awk '{printf "%s: %.1f MB zipped\n", $$NF, $$5 / 1048576}'
	@ls -l $(BOOTSTRAP) $(API_BOOTSTRAP) | awk '{printf "%s: %.1f MB\n", $$NF, $$5 / 1048576}'
	python3 scripts/lambda_artifact.py check --arch $(LAMBDA_ARCH) --glibc $(LAMBDA_GLIBC) $(BOOTSTRAP)
	python3 scripts/lambda_artifact.py check --arch $(LAMBDA_ARCH) --glibc $(LAMBDA_GLIBC) $(API_BOOTSTRAP)

# Called by `sam build` (BuildMethod: makefile): the artifact that `make build` made and the
# integration tests ran.
build-ProvisionFunction: build
	cp $(BOOTSTRAP) "$(ARTIFACTS_DIR)/bootstrap"

build-TenantApiFunction: build
	cp $(API_BOOTSTRAP) "$(ARTIFACTS_DIR)/bootstrap"

lint:
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings

# Every shipped Python and JS/TS file: ruff (ruff.toml) and Biome (biome.json), lint and format.
style: .venv/.installed node_modules/.installed
	ruff check --quiet
	ruff format --check --quiet
	biome check --log-level=error

# The template's rules on their own cases and on the template; the roles' policies by the
# simulator. Both offline and fast: the loop's share of template-checks.
rules: .local/bin/cfn-guard
	CHECKS=rules tests/template/check.sh $(TEMPLATE)

policy: .venv/.installed node_modules/.installed
	CHECKS=policy tests/template/check.sh $(TEMPLATE)

check: lint style unit rules policy local-checks
	@echo "make check: passed (make test runs everything, the local stack included)"

unit:
	cargo test

# The integration tests, one binary (tests/integration): each is #[ignore]d for plain cargo test.
# Its modules run one after another on one local stack, as separate binaries did: the burst and
# the races saturate the function's instances, and a fault test beside them would meet a
# Cognito time-out that is the other test's doing. The last run takes any module not listed.
INTEGRATION_MODULES := signup faults concurrency audit
integration: .venv/.installed node_modules/.installed build
	$(LOCAL_AWS) bash -c 'set -e; for module in $(INTEGRATION_MODULES); do \
	  cargo test --test integration -- --ignored "$$module::"; done; \
	  cargo test --test integration -- --ignored $(foreach module,$(INTEGRATION_MODULES),--skip $(module)::)'

# The template's proofs: lint, invariant rules (and their own cases), policy evaluation.
template-checks: tools
	tests/template/check.sh $(TEMPLATE)

# Breaking an invariant on purpose must fail the checks above.
template-mutations: tools build web browser
	LAMBDA_ARTIFACT=$(abspath $(BOOTSTRAP)) LAMBDA_API_ARTIFACT=$(abspath $(API_BOOTSTRAP)) tests/template/mutations.sh

# The data path, live, on the local world (local/): every policy case sent as a signed request
# (tests/live), the web app in headless Chromium (tests/web), and the identity pool's and the
# IAM gateway's own refusals, which need the stack too (local/tests).
LOCAL_LIVE_TESTS := local/tests/identity-pool.test.mjs local/tests/gateway.test.mjs
live: .venv/.installed node_modules/.installed build web browser
	$(LOCAL_AWS) node --test --test-reporter=spec tests/live/ tests/web/ $(LOCAL_LIVE_TESTS)

# The build and deploy scripts: the artifact check refuses what Lambda would not start, and the
# deploy passes the built binary's Architecture (tests/deploy, against a stand-in sam).
deploy-checks: .venv/.installed build
	LAMBDA_ARTIFACT=$(abspath $(BOOTSTRAP)) LAMBDA_ARCH=$(LAMBDA_ARCH) LAMBDA_GLIBC=$(LAMBDA_GLIBC) \
	  python3 -m unittest discover --start-directory tests/deploy --verbose

# The local world's own offline tests: the maker of the local world from the template (what it
# reads, what it refuses), the gateway's reading of requests and its SigV4 check, and guests.
LOCAL_OFFLINE_TESTS := $(filter-out $(LOCAL_LIVE_TESTS),$(wildcard local/tests/*.test.mjs))
local-checks: .venv/.installed node_modules/.installed $(TRANSFORMED)
	TRANSFORMED_TEMPLATE=$(TRANSFORMED) python3 -m unittest discover --start-directory local/tests --verbose
	node --test --test-reporter=dot $(LOCAL_OFFLINE_TESTS)

# sam build packages the very binary the integration tests ran.
sam-build: tools build
	$(OFFLINE_REGION) sam build --build-in-source --template $(TEMPLATE) \
	  --parameter-overrides Architecture=$(LAMBDA_ARCH)
	cmp .aws-sam/build/ProvisionFunction/bootstrap $(BOOTSTRAP)
	cmp .aws-sam/build/TenantApiFunction/bootstrap $(API_BOOTSTRAP)
	@echo "sam build: both functions' bootstraps are the tested ones, byte for byte"

# The bench harness's own parts, offline: its Runtime API, front door, TLS, report, the CPU
# share's set-up and the cost model.
bench-checks: .venv/.installed
	python3 -m unittest discover --start-directory bench --pattern 'test_*.py' --verbose

# Each part in turn, timed; a failure names its part. The parts are make targets of their own.
TEST_PARTS := lint style unit local-checks integration live deploy-checks bench-checks \
              template-checks template-mutations sam-build
test:
	@times=(); \
	for part in $(TEST_PARTS); do \
	  begin=$$(date +%s); \
	  echo "==== make $$part"; \
	  if ! $(MAKE) --no-print-directory $$part; then \
	    printf '  %s\n' "$${times[@]}"; echo "make test: FAILED in '$$part' (make $$part runs it alone)"; exit 1; \
	  fi; \
	  times+=("$$(printf '%-20s %5d s' $$part $$(($$(date +%s) - begin)))"); \
	done; \
	echo "make test: every part passed"; printf '  %s\n' "$${times[@]}"

$(TRANSFORMED): $(TEMPLATE) local/transform.py .venv/.installed
	mkdir -p $(@D)
	$(OFFLINE_REGION) python3 local/transform.py $(TEMPLATE) $@

DEMO_SCREENSHOT := $(abspath $(TARGET_DIR))/demo/web-app.png
demo: .venv/.installed node_modules/.installed build web browser
	DEMO_SCREENSHOT=$(DEMO_SCREENSHOT) $(LOCAL_AWS) cargo run --quiet --example demo

# The local stack and the web app, kept running on 127.0.0.1 for a person (Ctrl-C stops all).
up: .venv/.installed node_modules/.installed build web
	$(LOCAL_AWS) node web/serve.mjs

invoke: .venv/.installed node_modules/.installed build
	$(LOCAL_AWS) cargo run --quiet --example invoke

# cargo lambda's own loop on the local stack: `cargo lambda watch` on [::1]:9000, where
# with the stack's endpoints and table, kept running until Ctrl-C; in another terminal,
#   cargo lambda invoke provision-tenant --data-file events/post-confirmation-sign-up.json
watch: .venv/.installed node_modules/.installed build
	$(LOCAL_AWS) cargo lambda watch -A ::1 -P 9000

# As many function instances as the burst has sign-ups in flight, as Lambda would scale.
# Then the tenant API's handler, warm, against a bare lambda_http echo built the same way.
ECHO_BOOTSTRAP := $(TARGET_DIR)/lambda/bench_api_echo/bootstrap
API_BENCH := $(TARGET_DIR)/bench/api.jsonl
# The floors the function is measured against (bench/rust), built as the function is.
bench-floors: .venv/.installed
	cargo lambda build --release --target $(RUST_TARGET).$(LAMBDA_GLIBC) --example bench_echo --example bench_bare

# The peers, each pinned by its lockfile, in ignored folders of bench/peers.
bench/peers/node/node_modules/.installed: bench/peers/node/package.json bench/peers/node/package-lock.json
	npm ci --prefix bench/peers/node --no-audit --no-fund --loglevel=error
	touch $@

bench/peers/python/.venv/.installed: bench/peers/python/requirements.txt .venv/.installed
	python3 -m venv bench/peers/python/.venv
	$(UV) pip install --quiet --compile-bytecode --python bench/peers/python/.venv/bin/python --require-hashes \
	  -r bench/peers/python/requirements.txt
	touch $@

# Start-up and cost, each contender started as Lambda would (bench/run.py): the table, the
# figures (JSON) and the charts (startup.svg, cost.svg). Each contender also runs at Lambda's CPU
# share for each of BENCH_SIZES (MB, default 128,256,512,1024; empty for none) as a cgroup CFS
# quota (bench/cpu_share.py), init under the share and at full CPU (BENCH_INIT_CPU=share|full for
# one); BENCH_CPU_PERIOD_US sets the period (20 ms). BENCH_RUNS=3 for the run-to-run spread.
BENCH_DIR := $(TARGET_DIR)/bench
bench-startup: .venv/.installed node_modules/.installed build bench-floors \
               bench/peers/node/node_modules/.installed bench/peers/python/.venv/.installed
	$(LOCAL_AWS) python3 bench/run.py --target-dir $(abspath $(TARGET_DIR)) \
	  --out $(BENCH_DIR)/startup.json --chart $(BENCH_DIR)/startup.svg

bench: bench-startup
	LOCAL_FUNCTION_INSTANCES=32 $(LOCAL_AWS) cargo run --quiet --example bench_burst
	cargo lambda build --release --target $(RUST_TARGET).$(LAMBDA_GLIBC) --example bench_api_echo
	mkdir -p $(dir $(API_BENCH)) && rm -f $(API_BENCH)
	API_BENCH=$(API_BENCH) API_BENCH_LABEL=tenant-api $(LOCAL_AWS) cargo run --quiet --example bench_api
	API_BENCH=$(API_BENCH) API_BENCH_LABEL="bare lambda_http echo" LAMBDA_ARTIFACT=$(abspath $(BOOTSTRAP)) \
	  LAMBDA_API_ARTIFACT=$(abspath $(ECHO_BOOTSTRAP)) local/aws.sh cargo run --quiet --example bench_api

# Mutation testing of the library against its unit tests alone (not in make test: minutes per
# module). MUTANTS_FILES narrows it, e.g. make mutants MUTANTS_FILES="src/provision.rs", and
# MUTANTS_ARGS passes cargo-mutants' own options (MUTANTS_ARGS="--re restore" for the mutants
# whose names match); the outcome of each mutant is in target/mutants/mutants.out.
MUTANTS_FILES ?=
MUTANTS_ARGS ?=
# Its builds share one target folder of their own, so that a second run starts warm.
mutants: .local/bin/cargo-mutants
	CARGO_TARGET_DIR=$(abspath $(TARGET_DIR))/mutants/build cargo mutants \
	  $(foreach file,$(MUTANTS_FILES),--file $(file)) $(MUTANTS_ARGS) --output $(TARGET_DIR)/mutants -- --lib

# Hostile input: libFuzzer over both triggers' event handling, seeded from events/, for
# FUZZ_SECONDS (default 600). RUSTC_BOOTSTRAP lets the one stable toolchain here take the
# sanitizer flags cargo fuzz passes; a crash leaves its input in fuzz/artifacts/.
FUZZ_SECONDS ?= 600
fuzz: .local/bin/cargo-fuzz
	mkdir -p fuzz/corpus/trigger_events
	cp events/*.json fuzz/corpus/trigger_events/
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run trigger_events -- \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=8192

# The first deploy is guided and saves its answers in samconfig.toml here (git-ignored; beside
# .aws-sam/build/template.yaml, `sam build` would delete it); later ones reuse them. The
# Architecture is always the built binary's (scripts/deploy.py).
SAMCONFIG := $(CURDIR)/samconfig.toml
deploy: sam-build
	python3 scripts/deploy.py --template .aws-sam/build/template.yaml --config $(SAMCONFIG) \
	  --bootstrap $(BOOTSTRAP) $(API_BOOTSTRAP) --arch $(LAMBDA_ARCH) --glibc $(LAMBDA_GLIBC)

clean:
	cargo clean
	rm -rf .venv .venv-checkov node_modules web/node_modules web/dist .local .aws-sam fuzz/target fuzz/corpus fuzz/artifacts \
	  bench/peers/node/node_modules bench/peers/python/.venv
