//! Free local ports for a network of validators on this machine.
//!
//! Also compiled into `tests/network.rs` (`#[path = "../src/ports.rs"]`): the cli crate is a
//! binary only, so its integration tests cannot reach its modules; this file depends on
//! nothing but `std` for that reason.

use std::net::TcpListener;

/// A base port with the API ports (`base` to `base + n - 1`) and the p2p ports (`base + 100`
/// to `base + 100 + n - 1`) of `n` validators free above it, probed (so parallel runs rarely
/// collide); `None` when 100 probes found no such range.
pub fn free_base_port(n: usize) -> std::io::Result<Option<u16>> {
    for _ in 0..100 {
        let probe = TcpListener::bind("127.0.0.1:0")?;
        let base = probe.local_addr()?.port();
        drop(probe);
        if base < 1024 || base as usize + 100 + n > u16::MAX as usize {
            continue;
        }
        let free = (0..n as u16).all(|i| {
            TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && TcpListener::bind(("127.0.0.1", base + 100 + i)).is_ok()
        });
        if free {
            return Ok(Some(base));
        }
    }
    Ok(None)
}
