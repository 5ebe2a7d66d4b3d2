//! Statements a validator received from its clients, shared with the rest of the committee so
//! that whichever validator leads next can propose them.
//!
//! Without it a statement waits in the pool of the validator that received it until that
//! validator's turn to lead comes round (every n-th view), and each block carries only its
//! leader's statements. Sharing is best effort and changes nothing consensus decides: a shared
//! statement is judged when its block is applied, like any statement of any proposal, and one
//! proposed twice is recorded once (the second time as a duplicate).
//!
//! Wire format (p2p channel [`crate::engine::CHANNEL_STATEMENTS`], `docs/blocks.md`): a
//! statement count, then each statement as a length and its bytes (commonware codec varints),
//! at most [`MAX_SHARED_STATEMENTS`] statements and [`MAX_SHARE_BYTES`] bytes per message.

use bytes::{Buf as _, BufMut, Bytes};
use commonware_codec::{EncodeSize, Read, Write};
use commonware_cryptography::ed25519;
use commonware_p2p::{Receiver, Recipients, Sender};
use futures::{channel::mpsc, StreamExt};

use crate::app::Application;
use crate::block::MAX_STATEMENT_BYTES;

/// Most statements in one shared message.
pub const MAX_SHARED_STATEMENTS: usize = 1_024;
/// Largest shared message, in bytes (1 MiB), count and length prefixes included.
pub const MAX_SHARE_BYTES: usize = 1024 * 1024;
/// Shared messages waiting to be sent; when full, new ones are dropped (sharing is best effort).
pub(crate) const SHARE_QUEUE: usize = 64;

/// Sends statements to every other validator ([`Application::shared`] receives them), best
/// effort: dropped when the queue is full, consensus stopped, or there is no channel.
#[derive(Clone, Debug, Default)]
pub struct Share(pub(crate) Option<mpsc::Sender<Vec<u8>>>);

impl Share {
    /// Queues `statements` for every other validator; `false` if they were dropped (empty,
    /// outside the limits, queue full, or no channel).
    pub fn send(&self, statements: &[Vec<u8>]) -> bool {
        let Some(sender) = &self.0 else {
            return false;
        };
        match encode(statements) {
            Some(message) => sender.clone().try_send(message).is_ok(),
            None => false,
        }
    }
}

/// How many of `statements` (taken in order) fit in one message: at most
/// [`MAX_SHARED_STATEMENTS`] and [`MAX_SHARE_BYTES`] encoded.
pub fn fitting(statements: &[Vec<u8>]) -> usize {
    let mut size = MAX_SHARED_STATEMENTS.encode_size();
    let mut count = 0;
    for s in statements.iter().take(MAX_SHARED_STATEMENTS) {
        size += s.len().encode_size() + s.len();
        if size > MAX_SHARE_BYTES {
            break;
        }
        count += 1;
    }
    count
}

/// The message carrying `statements`, or `None` if they are empty or break a limit.
pub(crate) fn encode(statements: &[Vec<u8>]) -> Option<Vec<u8>> {
    let valid = |s: &Vec<u8>| !s.is_empty() && s.len() <= MAX_STATEMENT_BYTES;
    if statements.is_empty()
        || fitting(statements) != statements.len()
        || !statements.iter().all(valid)
    {
        return None;
    }
    let mut out = Vec::new();
    statements.len().write(&mut out);
    for s in statements {
        s.len().write(&mut out);
        out.put_slice(s);
    }
    Some(out)
}

/// The statements of a message, or `None` if it breaks the format or a limit.
pub(crate) fn decode(message: &[u8]) -> Option<Vec<Vec<u8>>> {
    if message.len() > MAX_SHARE_BYTES {
        return None;
    }
    let mut buf = Bytes::copy_from_slice(message);
    let count = usize::read_cfg(&mut buf, &(1..=MAX_SHARED_STATEMENTS).into()).ok()?;
    let mut statements = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::read_cfg(&mut buf, &(1..=MAX_STATEMENT_BYTES).into()).ok()?;
        if buf.remaining() < len {
            return None;
        }
        statements.push(buf.split_to(len).to_vec());
    }
    (!buf.has_remaining()).then_some(statements)
}

pub(crate) async fn send_shared<S: Sender>(mut sender: S, mut outgoing: mpsc::Receiver<Vec<u8>>) {
    while let Some(message) = outgoing.next().await {
        sender.send(Recipients::All, message, false);
    }
}

pub(crate) async fn receive_shared<R, A>(mut receiver: R, app: A)
where
    R: Receiver<PublicKey = ed25519::PublicKey>,
    A: Application,
{
    while let Ok((from, message)) = receiver.recv().await {
        let Ok(from): Result<[u8; 32], _> = from.as_ref().try_into() else {
            continue;
        };
        if let Some(statements) = decode(message.as_ref()) {
            app.shared(from, statements);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_come_back_as_they_went() {
        let statements = vec![vec![1u8; 10], vec![2u8; 300], vec![3u8]];
        let message = encode(&statements).unwrap();
        assert_eq!(decode(&message), Some(statements));
    }

    #[test]
    fn limits_are_enforced_on_both_sides() {
        assert_eq!(encode(&[]), None, "nothing to share");
        assert_eq!(encode(&[vec![]]), None, "an empty statement");
        assert_eq!(encode(&[vec![0; MAX_STATEMENT_BYTES + 1]]), None);
        let many = vec![vec![7u8]; MAX_SHARED_STATEMENTS + 1];
        assert_eq!(encode(&many), None);
        assert_eq!(fitting(&many), MAX_SHARED_STATEMENTS);
        let big = vec![vec![9u8; MAX_STATEMENT_BYTES]; 20];
        let fit = fitting(&big);
        assert!(fit < 20 && encode(&big[..fit]).is_some_and(|m| m.len() <= MAX_SHARE_BYTES));
    }

    #[test]
    fn malformed_messages_are_refused() {
        let good = encode(&[vec![1u8; 5], vec![2u8; 5]]).unwrap();
        assert_eq!(decode(&good[..good.len() - 1]), None, "truncated");
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), None, "trailing bytes");
        assert_eq!(decode(&[0]), None, "zero statements");
        assert_eq!(decode(&[]), None, "empty");
        assert_eq!(decode(&[0xff; 16]), None, "garbage");
    }
}
