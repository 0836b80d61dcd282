//! The `wingress` binary: parses the command line and runs it (see the
//! library, `wingress::cli`).

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: wingress::alloc::Allocator = wingress::alloc::Allocator;

fn main() -> ExitCode {
    wingress::cli::run(wingress::cli::Cli::parse())
}
