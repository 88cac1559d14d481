# The two commands of the README, and the checks CI runs.
.PHONY: run test load bench lint lint-template ci

run:
	cargo run -p webhooks-local

test:
	scripts/with-services.sh cargo test --workspace
	scripts/schemathesis.sh
	scripts/browser-tests.sh

# Load on DynamoDB Local and the SQS emulator: figures in docs/reliability.md.
load:
	scripts/with-services.sh cargo run --profile load -p webhooks-tests --bin webhooks-load

# Throughput, handler overhead, AWS requests and cost, each function's start-up and memory,
# artifact sizes; release build. Figures and method in docs/performance.md and docs/cost.md.
bench:
	cargo build --release --workspace --bins
	scripts/with-services.sh target/release/webhooks-bench
	scripts/artifacts.sh

lint: lint-template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-template:
	scripts/install-tools.sh
	.tools/venv/bin/cfn-lint template.yaml

ci: lint test
