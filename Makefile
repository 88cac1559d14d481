# The two commands of the README, and the checks CI runs.
.PHONY: run test lint lint-template ci

run:
	cargo run -p webhooks-local

test:
	scripts/with-services.sh cargo test --workspace
	scripts/schemathesis.sh
	scripts/browser-tests.sh

lint: lint-template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-template:
	scripts/install-tools.sh
	.tools/venv/bin/cfn-lint template.yaml

ci: lint test
