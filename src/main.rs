//! The `sharecheck` command-line tool.

mod cli;

/// The proxy allocates a few short-lived buffers per share (JSON lines, messages between
/// tasks) on every thread: mimalloc's per-thread free lists make that cheap.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::run());
}
