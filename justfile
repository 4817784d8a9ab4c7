# Switchboard developer recipes. Every recipe is a plain cargo command too.

default:
    @just --list

# The README's first command: the server on embedded SQLite with demo data.
demo:
    cargo run --release -p switchboard-server -- serve --demo

# The README's second command: every test.
test:
    cargo test --workspace

lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    bash .ci/check-architecture

# What CI runs.
ci:
    bash .ci/run

# Criterion benchmarks of the domain patch engine and the storage write path.
bench-micro:
    cargo bench -p switchboard-domain --bench patch
    cargo bench -p switchboard-storage --bench modify

# The HTTP load benchmark (docs/benchmarks.md): the release server on SQLite and
# PostgreSQL against the database's own ceiling, 3 rounds; rewrites the
# results section of docs/benchmarks.md and docs/load-throughput.svg.
bench:
    cargo build --release -p switchboard-server -p switchboard-loadgen
    target/release/switchboard-loadgen run --update-docs docs/benchmarks.md

# The query benchmark (docs/benchmarks.md): a million customers and a million
# conversations imported on each backend, searches against a point GET, page
# walks; rewrites its section of docs/benchmarks.md.
bench-query:
    cargo build --release -p switchboard-server -p switchboard-loadgen
    target/release/switchboard-loadgen query --update-docs docs/benchmarks.md

# A short run of the load benchmark (debug build, small dataset): checks
# that the harness works end to end with zero errors and zero lost webhooks.
bench-smoke:
    cargo build -p switchboard-server -p switchboard-loadgen
    target/debug/switchboard-loadgen run --rounds 1 --warmup 0.2 --duration 1 --concurrency 1,4 --customers 200 --conversations 200 --ready-wal-segments 4 --out target/loadgen-smoke
