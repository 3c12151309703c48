//! serde helpers (feature `json`): values stored as JSON text.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Client, Error};

impl Client {
    /// Stores `value` as JSON under `key` (flags 0, so any client reads the
    /// bytes as they are).
    ///
    /// # Errors
    /// A serialization error ([`Error`]'s source is the `serde_json` one);
    /// otherwise as [`Client::set`].
    pub fn set_json<T: Serialize + ?Sized>(
        &self,
        key: impl AsRef<[u8]>,
        value: &T,
        exptime: u32,
    ) -> Result<(), Error> {
        let bytes = serde_json::to_vec(value)?;
        self.set(key, bytes, 0, exptime)
    }

    /// Reads the JSON value under `key`; `None` on a miss.
    ///
    /// # Errors
    /// A deserialization error when the bytes are not a `T` in JSON;
    /// otherwise as [`Client::get`].
    pub fn get_json<T: DeserializeOwned>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>, Error> {
        match self.get(key)? {
            Some(item) => Ok(Some(serde_json::from_slice(&item.value)?)),
            None => Ok(None),
        }
    }
}
