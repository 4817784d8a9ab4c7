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
