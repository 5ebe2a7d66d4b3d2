//! Newtypes for what a command names: device ids and Unix times.

use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt;

use crate::MAX_DEVICE_ID_BYTES;

/// A device identifier: 1 to [`MAX_DEVICE_ID_BYTES`] opaque bytes (the ledger's device id, as
/// in the device's birth statement).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(Vec<u8>);

/// A byte string that cannot be a [`DeviceId`]: empty or longer than [`MAX_DEVICE_ID_BYTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidDeviceId {
    /// The length that was offered.
    pub len: usize,
}

impl DeviceId {
    /// Checks the length (1..=[`MAX_DEVICE_ID_BYTES`]) and takes the bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, InvalidDeviceId> {
        let bytes = bytes.into();
        if bytes.is_empty() || bytes.len() > MAX_DEVICE_ID_BYTES {
            return Err(InvalidDeviceId { len: bytes.len() });
        }
        Ok(Self(bytes))
    }

    /// Returns the id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<[u8]> for DeviceId {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<&[u8]> for DeviceId {
    type Error = InvalidDeviceId;
    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Self::new(bytes)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({self})")
    }
}

/// Printable ASCII ids print as text, anything else as hex.
impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.iter().all(|b| b.is_ascii_graphic()) {
            self.0.iter().try_for_each(|&b| write!(f, "{}", b as char))
        } else {
            write!(f, "0x")?;
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
}

impl fmt::Display for InvalidDeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a device id is 1 to {MAX_DEVICE_ID_BYTES} bytes, not {}",
            self.len
        )
    }
}

/// A point in time: whole seconds since the Unix epoch (UTC, leap seconds ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixSeconds(pub u64);

impl UnixSeconds {
    /// Adds `secs`, saturating at the end of time.
    pub fn plus(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Seconds from `earlier` to `self`; zero when `earlier` is later.
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Reads the system clock (with the `std` feature).
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self(since)
    }
}

impl fmt::Display for UnixSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}
