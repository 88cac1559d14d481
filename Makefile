# The two commands of the README, and the checks CI runs.
.PHONY: run test smoke stack-test sam-local sam-build load flamegraph bench lint lint-template ci

run:
	cargo run -p webhooks-local

test:
	scripts/with-services.sh cargo test --workspace
	scripts/with-services.sh cargo test -p webhooks-tests --test it -- --ignored --exact \
	  store_contract::notices::a_table_and_webhooks_from_before_the_notices_index_are_indexed
	scripts/with-services.sh cargo test -p webhooks-tests --test it -- --ignored --test-threads=1 \
	  metrics::metrics_count_ten_deliveries
	$(MAKE) smoke
	scripts/schemathesis.sh
	scripts/browser-tests.sh
	scripts/stack-test.sh
	scripts/sam-local.sh

# `make bench` (its sections 1, 2, 3 and 6) and `make load` on a few items each, debug build,
# in about half a minute: their code runs on every `make test`; the figures mean nothing.
smoke:
	cargo build -q -p webhooks-local -p webhooks-bench --bins
	WEBHOOKS_SMOKE=1 scripts/with-services.sh sh -c \
	  'cargo run -q -p webhooks-bench --bin webhooks-bench -- 1 2 3 6 && cargo run -q -p webhooks-bench --bin webhooks-load'

# The template deployed to the AWS emulator, the black-box suite through API Gateway, and the
# IAM audit of every call the functions made (README, "The deployed stack, tested").
stack-test:
	scripts/stack-test.sh

# Every function under `sam local invoke` with its sample event, and the API's create, get, list
# and delete through `sam local start-api`, in Docker with an engine and image of the step's own
# (README, "SAM local invocation"). After the stack test in `make test`, whose x86_64 build it
# shares (its own `sam build` then takes about 30 s).
sam-local:
	scripts/sam-local.sh

# What `sam deploy` uploads: every function for arm64, release build, into .aws-sam/.
sam-build:
	scripts/install-tools.sh lambda
	PATH="$(CURDIR)/.tools/lambda-venv/bin:$$PATH" SAM_CLI_TELEMETRY=0 sam build --beta-features

# Load on DynamoDB Local and the SQS emulator: figures in docs/reliability.md.
load:
	scripts/with-services.sh cargo run --profile load -p webhooks-bench --bin webhooks-load

# Where `make load`'s phase 2 spends its time: target/flamegraph-load.svg (docs/performance.md 9).
flamegraph:
	scripts/flamegraph.sh

# Throughput, handler overhead, AWS requests and cost, each function's start-up and memory,
# the delivery engine at scale, artifact sizes. Each artifact at its own optimisation: the
# functions as released (size first), the runner and the bench as `make load` builds them
# (speed first). Figures and method in docs/performance.md, docs/cost.md and docs/reliability.md.
bench:
	cargo build --release --workspace --exclude webhooks-local --exclude webhooks-bench --exclude webhooks-tests --bins
	cargo build --profile load -p webhooks-local -p webhooks-bench --bins
	WEBHOOKS_FUNCTIONS_DIR=target/release scripts/with-services.sh target/load/webhooks-bench
	scripts/artifacts.sh

lint: lint-template
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-template:
	scripts/install-tools.sh
	scripts/install-tools.sh lambda
	.tools/venv/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .tools/lambda-venv/bin/sam validate --lint

ci: lint test
