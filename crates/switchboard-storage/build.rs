//! Rebuilds the crate when a migration changes: `embed_migrations!` reads
//! the `migrations/` tree at compile time, and cargo does not otherwise
//! notice a new or edited migration file.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
