//! The `wingress` binary: parses the command line and runs it (see the
//! library, `wingress::cli`).

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: wingress::platform::alloc::Allocator = wingress::platform::alloc::Allocator;

fn main() -> ExitCode {
    wingress::cli::run(wingress::cli::Cli::parse())
}
