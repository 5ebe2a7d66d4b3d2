//! Admission of an owner's policy set: limits, the nesting bound, parsing with ledger-stable
//! ids and strict validation against the schema. A pure function of the texts.

use cedar_policy::{Policy, PolicyId, PolicySet, ValidationMode};

use crate::engine::engine;

/// Longest policy text, in bytes.
pub const MAX_POLICY_BYTES: usize = 16 * 1024;
/// Most policies in one owner's set.
pub const MAX_POLICIES: usize = 64;
/// Most policy text in one owner's set, in bytes (a statement is at most 64 KiB anyway).
pub const MAX_POLICY_SET_BYTES: usize = 48 * 1024;
/// Policy ids are 1 to this many bytes of `[A-Za-z0-9._-]`.
pub const MAX_POLICY_ID_BYTES: usize = 64;
/// Highest nesting estimate (see [`nesting`]) a policy may have.
pub const MAX_NESTING: usize = 64;

/// Why a policy set is not admitted. Every message is built from the policy id (checked to be
/// plain ASCII first) and a fixed category: Cedar's own error text is never kept, because it
/// may differ between runs (`notes/cedar.md` §5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// More than [`MAX_POLICIES`] policies.
    #[error("{count} policies, at most {MAX_POLICIES}")]
    TooMany { count: usize },
    /// A policy id that is empty, too long or not `[A-Za-z0-9._-]`.
    #[error("policy #{index}: id must be 1..={MAX_POLICY_ID_BYTES} bytes of [A-Za-z0-9._-]")]
    BadId { index: usize },
    /// Two policies with the same id.
    #[error("policy {id:?} appears twice")]
    DuplicateId { id: String },
    /// A policy text over [`MAX_POLICY_BYTES`].
    #[error("policy {id:?} is {bytes} bytes, at most {MAX_POLICY_BYTES}")]
    TooLarge { id: String, bytes: usize },
    /// The set's texts together exceed [`MAX_POLICY_SET_BYTES`].
    #[error("the policy texts total {bytes} bytes, at most {MAX_POLICY_SET_BYTES}")]
    SetTooLarge { bytes: usize },
    /// A control character other than tab, line feed or carriage return.
    #[error("policy {id:?} contains a control character")]
    ControlCharacter { id: String },
    /// Nested deeper than [`MAX_NESTING`] (or brackets that do not balance).
    #[error("policy {id:?} is nested too deeply (estimate {nesting}, at most {MAX_NESTING})")]
    TooDeep { id: String, nesting: usize },
    /// Not exactly one static Cedar policy (syntax error, a template, several policies).
    #[error("policy {id:?} does not parse as one static Cedar policy")]
    Unparsable { id: String },
    /// Parses, but fails strict validation against the Proverka schema (unknown entity type,
    /// attribute or action, type error, unguarded optional attribute).
    #[error("policy {id:?} fails strict validation against the Proverka schema")]
    Invalid { id: String },
    /// The built-in schema did not load: a bug in this crate, never the submitter's fault.
    #[error("the built-in Cedar schema does not load")]
    Engine,
}

/// A parsed, validated policy with its ledger id.
pub(crate) struct Admitted {
    pub id: String,
    pub policy: Policy,
}

/// Admits `policies` (id, Cedar text), in order: limits and nesting first (before Cedar sees
/// any text), then parsing with the given id, then strict validation of each policy. The first
/// failure in payload order is the one reported, so the result is deterministic.
pub(crate) fn admit(policies: &[(String, String)]) -> Result<Vec<Admitted>, AdmissionError> {
    if policies.len() > MAX_POLICIES {
        return Err(AdmissionError::TooMany {
            count: policies.len(),
        });
    }
    let total: usize = policies.iter().map(|(_, t)| t.len()).sum();
    let mut seen = std::collections::BTreeSet::new();
    for (index, (id, text)) in policies.iter().enumerate() {
        if !valid_id(id) {
            return Err(AdmissionError::BadId { index });
        }
        if !seen.insert(id.as_str()) {
            return Err(AdmissionError::DuplicateId { id: id.clone() });
        }
        if text.len() > MAX_POLICY_BYTES {
            return Err(AdmissionError::TooLarge {
                id: id.clone(),
                bytes: text.len(),
            });
        }
    }
    if total > MAX_POLICY_SET_BYTES {
        return Err(AdmissionError::SetTooLarge { bytes: total });
    }
    for (id, text) in policies {
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(AdmissionError::ControlCharacter { id: id.clone() });
        }
        match nesting(text) {
            Some(n) if n <= MAX_NESTING => {}
            Some(n) => {
                return Err(AdmissionError::TooDeep {
                    id: id.clone(),
                    nesting: n,
                })
            }
            None => return Err(AdmissionError::Unparsable { id: id.clone() }),
        }
    }
    let engine = engine().map_err(|_| AdmissionError::Engine)?;
    let mut out = Vec::with_capacity(policies.len());
    for (id, text) in policies {
        let policy = Policy::parse(Some(PolicyId::new(id)), text)
            .map_err(|_| AdmissionError::Unparsable { id: id.clone() })?;
        let mut one = PolicySet::new();
        one.add(policy.clone())
            .map_err(|_| AdmissionError::Unparsable { id: id.clone() })?;
        if !engine
            .validator
            .validate(&one, ValidationMode::Strict)
            .validation_passed()
        {
            return Err(AdmissionError::Invalid { id: id.clone() });
        }
        out.push(Admitted {
            id: id.clone(),
            policy,
        });
    }
    Ok(out)
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_POLICY_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The nesting estimate of a policy text, or `None` if its brackets or string literals do not
/// balance. Computed on the text alone, before Cedar parses it, so that no input can drive
/// Cedar's recursive parser, validator or evaluator deep:
///
/// * every bracket group (`(…)`, `[…]`, `{…}`) and the whole text are groups;
/// * every operator token adds one to the group it is in: `&&`, `||`, `!`, `==`, `!=`, `<`,
///   `<=`, `>`, `>=`, `+`, `-`, `*`, `.`, and the keywords `in`, `has`, `like`, `is`, `if`,
///   `when`, `unless`;
/// * a group's estimate is 1 + its operators + the largest estimate of the groups inside it.
///
/// Each node of the parsed expression tree is an operator token or a bracket group, so the
/// tree is never deeper than the estimate (string literals and `//` comments are skipped).
pub fn nesting(text: &str) -> Option<usize> {
    // Per open group: (closing bracket, operators so far, deepest child estimate).
    let mut stack: Vec<(u8, usize, usize)> = vec![(0, 0, 0)];
    let b = text.as_bytes();
    let mut i = 0;
    let bump = |stack: &mut Vec<(u8, usize, usize)>| {
        if let Some(top) = stack.last_mut() {
            top.1 += 1;
        }
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return None,
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                let close = match c {
                    b'(' => b')',
                    b'[' => b']',
                    _ => b'}',
                };
                stack.push((close, 0, 0));
            }
            b')' | b']' | b'}' => {
                let (close, ops, child) = stack.pop()?;
                if close != c || stack.is_empty() {
                    return None;
                }
                let depth = 1 + ops + child;
                if let Some(top) = stack.last_mut() {
                    top.2 = top.2.max(depth);
                }
            }
            b'&' | b'|' | b'=' => {
                // `&&`, `||`, `==`: one operator of two characters.
                bump(&mut stack);
                if b.get(i + 1) == Some(&c) {
                    i += 1;
                }
            }
            b'!' | b'<' | b'>' => {
                bump(&mut stack);
                if b.get(i + 1) == Some(&b'=') {
                    i += 1;
                }
            }
            b'+' | b'-' | b'*' | b'.' => bump(&mut stack),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if matches!(
                    &text[start..i],
                    "in" | "has" | "like" | "is" | "if" | "when" | "unless"
                ) {
                    bump(&mut stack);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    match stack.as_slice() {
        [(0, ops, child)] => Some(1 + ops + child),
        _ => None,
    }
}
