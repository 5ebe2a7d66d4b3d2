//! The command payload: fields, limits, and its deterministic CBOR encoding.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use coset::cbor::value::Value;

use crate::cbor;
use crate::{
    DeviceId, UnixSeconds, MAX_ACTION_BYTES, MAX_CBOR_DEPTH, MAX_CBOR_ITEMS, MAX_PARAMS,
    MAX_PARAM_KEY_BYTES, MAX_PARAM_TEXT_BYTES,
};

/// Payload map keys (docs/command.cddl).
const SENDER: u64 = 1;
const RECIPIENT: u64 = 2;
const ACTION: u64 = 3;
const PARAMS: u64 = 4;
const SEQ: u64 = 5;
const IAT: u64 = 6;
const EXP: u64 = 7;

/// What a command says: who tells whom to do what, with which arguments, when.
///
/// The relations between fields (recipient, freshness, lifetime, sequence) are judged by the
/// verifier, not here: a `Command` can describe a command that will be refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// Key 1: the sending device.
    pub sender: DeviceId,
    /// Key 2: the device that is to act.
    pub recipient: DeviceId,
    /// Key 3: what to do, e.g. `"actuate"`.
    pub action: Action,
    /// Key 4: the action's arguments (may be empty, never absent).
    pub params: Params,
    /// Key 5: the sender's sequence number, increasing per sender.
    pub seq: u64,
    /// Key 6: when the sender issued the command.
    pub iat: UnixSeconds,
    /// Key 7: when the command stops being valid (exclusive); must be after `iat`.
    pub exp: UnixSeconds,
}

/// An action name: 1 to [`MAX_ACTION_BYTES`] bytes of UTF-8.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Action(String);

impl Action {
    /// Checks the length.
    pub fn new(name: impl Into<String>) -> Result<Self, Malformed> {
        let name = name.into();
        if name.is_empty() || name.len() > MAX_ACTION_BYTES {
            return Err(Malformed::FieldLength(Field::Action));
        }
        Ok(Self(name))
    }

    /// Returns the name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One argument value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ParamValue {
    /// A CBOR integer within `i64`.
    Int(i64),
    /// A text string of at most [`MAX_PARAM_TEXT_BYTES`] bytes.
    Text(String),
    /// A boolean.
    Bool(bool),
}

/// A command's arguments: at most [`MAX_PARAMS`] entries with distinct names of 1 to
/// [`MAX_PARAM_KEY_BYTES`] bytes, kept in deterministic CBOR order (shorter names first, then
/// bytewise).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Params(Vec<(String, ParamValue)>);

impl Params {
    /// No arguments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an argument, checking the limits.
    pub fn insert(&mut self, name: impl Into<String>, value: ParamValue) -> Result<(), Malformed> {
        let name = name.into();
        check_param(&name, &value)?;
        match self.0.binary_search_by(|(k, _)| param_order(k, &name)) {
            Ok(i) => {
                if let Some(slot) = self.0.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => {
                if self.0.len() >= MAX_PARAMS {
                    return Err(Malformed::TooManyParams);
                }
                self.0.insert(i, (name, value));
            }
        }
        Ok(())
    }

    /// Builder form of [`Params::insert`].
    pub fn with(mut self, name: impl Into<String>, value: ParamValue) -> Result<Self, Malformed> {
        self.insert(name, value)?;
        Ok(self)
    }

    /// Looks an argument up by name.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0
            .binary_search_by(|(k, _)| param_order(k, name))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v)
    }

    /// The arguments in encoding order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Deterministic CBOR order of text keys: by encoded bytes, i.e. shorter first, then bytewise.
fn param_order(a: &str, b: &str) -> core::cmp::Ordering {
    (a.len(), a.as_bytes()).cmp(&(b.len(), b.as_bytes()))
}

fn check_param(name: &str, value: &ParamValue) -> Result<(), Malformed> {
    if name.is_empty() || name.len() > MAX_PARAM_KEY_BYTES {
        return Err(Malformed::FieldLength(Field::ParamName));
    }
    match value {
        ParamValue::Text(t) if t.len() > MAX_PARAM_TEXT_BYTES => {
            Err(Malformed::FieldLength(Field::ParamValue))
        }
        _ => Ok(()),
    }
}

/// A payload field, as named in refusal details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Key 1.
    Sender,
    /// Key 2.
    Recipient,
    /// Key 3.
    Action,
    /// Key 4.
    Params,
    /// Key 5.
    Seq,
    /// Key 6.
    Iat,
    /// Key 7.
    Exp,
    /// A name in `params`.
    ParamName,
    /// A value in `params`.
    ParamValue,
}

/// Why an envelope or payload does not parse. Each is refused before any key is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not one well-formed CBOR data item (truncated, trailing bytes, invalid encoding).
    NotCbor,
    /// CBOR containers nested deeper than [`MAX_CBOR_DEPTH`] (found before decoding).
    TooDeep,
    /// More than [`MAX_CBOR_ITEMS`] CBOR items in one decoded unit (found before decoding).
    TooManyItems,
    /// A string length or item count declared larger than the bytes that follow it (hostile or
    /// truncated; found before decoding).
    LengthBeyondInput,
    /// Not a CBOR tag: an untagged COSE_Sign1 is refused.
    NotTagged,
    /// A tag other than 18 (COSE_Sign1).
    WrongTag(u64),
    /// Tag 18 around something that is not a COSE_Sign1 (coset's structural checks, including
    /// duplicate header labels and `alg` values outside the IANA registry).
    NotCoseSign1,
    /// The unprotected header is not empty.
    UnprotectedHeader,
    /// The protected header holds a parameter other than alg, content type and kid
    /// (including `crit`).
    UnexpectedHeader,
    /// No `alg` (1) in the protected header, or not an integer.
    MissingAlgorithm,
    /// `kid` (4) missing or not 32 bytes.
    BadKid,
    /// Content type (3) missing or not `application/vnd.proverka.command+cbor`.
    WrongContentType,
    /// No embedded payload (detached payloads are refused).
    DetachedPayload,
    /// The payload is not one CBOR map.
    PayloadNotMap,
    /// The payload is not in core deterministic encoding (RFC 8949 §4.2.1): non-shortest
    /// integers or lengths, indefinite lengths, or map keys out of order or repeated.
    NotDeterministic,
    /// A required field is absent.
    MissingField(Field),
    /// A key that the format does not define.
    UnknownField,
    /// A field of the wrong CBOR type (e.g. a negative `seq`, a float param).
    FieldType(Field),
    /// A field of the wrong size (ids 1–64 bytes, action 1–64, param names 1–32, texts ≤ 64).
    FieldLength(Field),
    /// More than [`MAX_PARAMS`] params.
    TooManyParams,
    /// `exp` is not after `iat`.
    ExpNotAfterIat,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NotCbor => f.write_str("not one well-formed CBOR item"),
            Malformed::TooDeep => write!(f, "CBOR nested deeper than {MAX_CBOR_DEPTH}"),
            Malformed::TooManyItems => write!(f, "more than {MAX_CBOR_ITEMS} CBOR items"),
            Malformed::LengthBeyondInput => {
                f.write_str("a CBOR length or count is larger than the input left")
            }
            Malformed::NotTagged => f.write_str("not tagged (COSE_Sign1 tag 18 required)"),
            Malformed::WrongTag(t) => write!(f, "tag {t}, expected 18 (COSE_Sign1)"),
            Malformed::NotCoseSign1 => f.write_str("not a COSE_Sign1 structure"),
            Malformed::UnprotectedHeader => f.write_str("unprotected header is not empty"),
            Malformed::UnexpectedHeader => {
                f.write_str("protected header holds more than alg, content type and kid")
            }
            Malformed::MissingAlgorithm => f.write_str("no integer alg in the protected header"),
            Malformed::BadKid => f.write_str("kid missing or not a 32-byte thumbprint"),
            Malformed::WrongContentType => f.write_str("content type is not a command's"),
            Malformed::DetachedPayload => f.write_str("payload is detached"),
            Malformed::PayloadNotMap => f.write_str("payload is not a CBOR map"),
            Malformed::NotDeterministic => f.write_str("payload is not deterministic CBOR"),
            Malformed::MissingField(field) => write!(f, "field {field:?} is missing"),
            Malformed::UnknownField => f.write_str("payload holds an unknown key"),
            Malformed::FieldType(field) => write!(f, "field {field:?} has the wrong type"),
            Malformed::FieldLength(field) => write!(f, "field {field:?} has the wrong size"),
            Malformed::TooManyParams => write!(f, "more than {MAX_PARAMS} params"),
            Malformed::ExpNotAfterIat => f.write_str("exp is not after iat"),
        }
    }
}

impl Command {
    /// Encodes the payload in core deterministic CBOR: the bytes that get signed.
    pub fn to_payload(&self) -> Vec<u8> {
        let params = self
            .params
            .0
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    ParamValue::Int(i) => Value::from(*i),
                    ParamValue::Text(t) => Value::Text(t.clone()),
                    ParamValue::Bool(b) => Value::Bool(*b),
                };
                (Value::Text(k.clone()), v)
            })
            .collect();
        let entries = [
            (SENDER, Value::Bytes(self.sender.as_bytes().to_vec())),
            (RECIPIENT, Value::Bytes(self.recipient.as_bytes().to_vec())),
            (ACTION, Value::Text(self.action.0.clone())),
            (PARAMS, Value::Map(params)),
            (SEQ, Value::from(self.seq)),
            (IAT, Value::from(self.iat.0)),
            (EXP, Value::from(self.exp.0)),
        ];
        cbor::encode(&Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        ))
    }

    /// Decodes a payload: one deterministic CBOR map with exactly keys 1–7, each within its
    /// limits, and `exp` after `iat`. The caller has bounded `bytes`.
    pub fn from_payload(bytes: &[u8]) -> Result<Self, Malformed> {
        let value = cbor::decode(bytes)?;
        // Re-encoding gives back the input only if every length and integer was in shortest
        // form and definite; key order is checked below.
        if cbor::encode(&value) != bytes {
            return Err(Malformed::NotDeterministic);
        }
        let Value::Map(entries) = value else {
            return Err(Malformed::PayloadNotMap);
        };
        let mut fields: [Option<Value>; 7] = Default::default();
        let mut last = 0;
        for (key, value) in entries {
            let key = uint(&key).ok_or(Malformed::UnknownField)?;
            if !(SENDER..=EXP).contains(&key) {
                return Err(Malformed::UnknownField);
            }
            if key <= last {
                return Err(Malformed::NotDeterministic);
            }
            last = key;
            if let Some(slot) = usize::try_from(key - 1)
                .ok()
                .and_then(|i| fields.get_mut(i))
            {
                *slot = Some(value);
            }
        }
        let [sender, recipient, action, params, seq, iat, exp] = fields;
        let command = Command {
            sender: device_id(sender, Field::Sender)?,
            recipient: device_id(recipient, Field::Recipient)?,
            action: action_field(action)?,
            params: params_field(params)?,
            seq: uint_field(seq, Field::Seq)?,
            iat: UnixSeconds(uint_field(iat, Field::Iat)?),
            exp: UnixSeconds(uint_field(exp, Field::Exp)?),
        };
        if command.exp <= command.iat {
            return Err(Malformed::ExpNotAfterIat);
        }
        Ok(command)
    }
}

fn uint(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

fn required(value: Option<Value>, field: Field) -> Result<Value, Malformed> {
    value.ok_or(Malformed::MissingField(field))
}

fn uint_field(value: Option<Value>, field: Field) -> Result<u64, Malformed> {
    uint(&required(value, field)?).ok_or(Malformed::FieldType(field))
}

fn device_id(value: Option<Value>, field: Field) -> Result<DeviceId, Malformed> {
    match required(value, field)? {
        Value::Bytes(b) => DeviceId::new(b).map_err(|_| Malformed::FieldLength(field)),
        _ => Err(Malformed::FieldType(field)),
    }
}

fn action_field(value: Option<Value>) -> Result<Action, Malformed> {
    match required(value, Field::Action)? {
        Value::Text(t) => Action::new(t),
        _ => Err(Malformed::FieldType(Field::Action)),
    }
}

fn params_field(value: Option<Value>) -> Result<Params, Malformed> {
    let Value::Map(entries) = required(value, Field::Params)? else {
        return Err(Malformed::FieldType(Field::Params));
    };
    if entries.len() > MAX_PARAMS {
        return Err(Malformed::TooManyParams);
    }
    let mut params: Vec<(String, ParamValue)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Value::Text(name) = key else {
            return Err(Malformed::FieldType(Field::ParamName));
        };
        let value = match value {
            Value::Integer(i) => ParamValue::Int(
                i64::try_from(i).map_err(|_| Malformed::FieldType(Field::ParamValue))?,
            ),
            Value::Text(t) => ParamValue::Text(t),
            Value::Bool(b) => ParamValue::Bool(b),
            _ => return Err(Malformed::FieldType(Field::ParamValue)),
        };
        check_param(&name, &value)?;
        if let Some((prev, _)) = params.last() {
            if param_order(prev, &name) != core::cmp::Ordering::Less {
                return Err(Malformed::NotDeterministic);
            }
        }
        params.push((name, value));
    }
    Ok(Params(params))
}
