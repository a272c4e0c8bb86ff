# make demo    the sign-up flow on local stand-ins for AWS
# make test    every check: format, lint, unit tests, integration tests on local servers
# make invoke  send each sample event in events/ to the function
# make build   the Lambda artifact: target/lambda/provision-tenant/bootstrap.zip
# make bench   sign-up latency through the local stack
#
# Everything installs into ignored folders of this repo (.venv, node_modules), once.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
export PATH := $(CURDIR)/.venv/bin:$(CURDIR)/node_modules/.bin:$(PATH)

FUNCTION := provision-tenant
ARTIFACT := target/lambda/$(FUNCTION)/bootstrap.zip
LOCAL_AWS := tests/local-aws.sh

.PHONY: all tools build test lint unit integration demo invoke bench clean
all: test

.venv/.installed: requirements-dev.txt
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# --no-deps: cargo-lambda's zig dependency (400 MB) is only for cross-compiling; we build with cargo.
	.venv/bin/pip install --quiet --disable-pip-version-check --no-deps cargo-lambda==1.9.2
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

tools: .venv/.installed node_modules/.installed

build: .venv/.installed
	cargo lambda build --release --compiler cargo --output-format zip
	@ls -l $(ARTIFACT) | awk '{printf "%s: %.1f MB zipped\n", $$NF, $$5 / 1048576}'
	@unzip -l $(ARTIFACT) | awk 'NR > 3 && $$NF == "bootstrap" {printf "bootstrap: %.1f MB unzipped\n", $$1 / 1048576}'

lint:
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings

unit:
	cargo test

integration: tools
	$(LOCAL_AWS) cargo test --test signup -- --ignored

test: lint unit integration

demo: tools
	$(LOCAL_AWS) cargo run --quiet --example demo

invoke: tools
	$(LOCAL_AWS) cargo run --quiet --example invoke

bench: tools
	LOCAL_AWS_RELEASE=1 $(LOCAL_AWS) cargo run --quiet --example bench

clean:
	cargo clean
	rm -rf .venv node_modules
