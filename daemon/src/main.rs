//! The `wingress` binary: parses the command line and runs it (see the
//! library, `wingress::cli`).

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: wingress::platform::alloc::Allocator = wingress::platform::alloc::Allocator;

fn main() -> ExitCode {
    abort_on_panic();
    wingress::cli::run(wingress::cli::Cli::parse())
}

/// A panic ends the process in every build, as release's `panic = "abort"`
/// does: the test suite's build (`--profile ci`) unwinds, because the test
/// harness needs it, and must not let tokio catch a panic inside a task
/// that the shipped binary would die of.
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
}
