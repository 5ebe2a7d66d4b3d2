//! The `proverka` command: run a node, manage keys, sign, submit, fetch and verify offline.
//!
//! Exit codes: 0 success; 1 verification failed; 2 bad usage or unreadable input;
//! 3 the ledger could not be reached; 4 the ledger refused the request.

mod bench;
mod bench_net;
mod client;
mod commands;
mod demo;
mod gateway;
mod loadgen;
mod net;
mod ports;

use std::process::ExitCode;

use clap::Parser;

use commands::Cli;

// glibc's malloc took 8 % of the node's CPU under load; mimalloc's thread-local free lists
// take about half that (BENCHMARKS.md "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn verify(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: format!("verification failed: {m}"),
        }
    }
    pub fn input(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 2,
            message: m.to_string(),
        }
    }
    pub fn network(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 3,
            message: m.to_string(),
        }
    }
    pub fn refused(m: impl std::fmt::Display) -> Self {
        Failure {
            code: 4,
            message: m.to_string(),
        }
    }
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("proverka: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Opts this process out of transparent huge pages. Where the kernel backs every aligned 2 MiB
/// of anonymous memory with a huge page (`/sys/kernel/mm/transparent_hugepage/enabled` =
/// `always`), each page the allocator touches afresh after returning memory to the kernel is
/// zeroed 2 MiB at a time: with four validators on one machine that cost more than the
/// allocator saved (BENCHMARKS.md "The allocator"). Best effort: a kernel without the option
/// leaves the process as it was.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
