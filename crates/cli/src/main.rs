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
    raise_open_file_limit();
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

/// Raises this process's soft limit on open files to its hard limit. A node keeps up to
/// `MAX_HTTP_CONNECTIONS` (16,384) API connections open besides its databases and peers, and
/// the usual soft limit of 1,024 would stop it accepting long before that (docs/limits.md);
/// the hard limit is the one the administrator chose. Best effort: on failure the process keeps
/// the limit it was given.
fn raise_open_file_limit() {
    #[cfg(target_os = "linux")]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: both calls only read or write the `rlimit` we pass, which outlives them.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
                && limit.rlim_cur < limit.rlim_max
            {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }
}
