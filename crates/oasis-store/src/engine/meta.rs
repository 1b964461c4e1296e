//! The metadata table, [`META`]: the store keeps its format marker, each
//! record type's layout and the auto-id sequences there, and every
//! checkpoint the last log sequence number the engine then holds.

use alloc::vec::Vec;

use super::Held;
use super::read::Reader;
use crate::error::{Error, Result};

/// The metadata table: format marker, layouts, id sequences.
pub(crate) const META: &str = "oasis-store";

/// The key in [`META`] of the last log sequence number the engine holds
/// durably (written by every checkpoint), big-endian u64.
const APPLIED_KEY: &[u8] = b"log-applied";

/// Records, in the engine transaction `tx`, that it holds every log
/// record up to `seq`.
pub(crate) fn mark_applied(tx: &Held, seq: u64) -> Result<()> {
    tx.insert(META, APPLIED_KEY, &seq.to_be_bytes())?;
    Ok(())
}

/// The last log sequence number the engine holds, as the last checkpoint
/// recorded it in `tx` (0 if none did).
pub(crate) fn applied(tx: &Held) -> Result<u64> {
    let v = value_of(tx, META, APPLIED_KEY)?;
    match v.map(|v| <[u8; 8]>::try_from(v.as_slice())) {
        None => Ok(0),
        Some(Ok(b)) => Ok(u64::from_be_bytes(b)),
        Some(Err(_)) => Err(Error::Engine(
            "the checkpoint's log sequence number is not 8 bytes".into(),
        )),
    }
}

/// The value under `key` in table `table`, read in `tx`.
pub(crate) fn value_of(tx: &Held, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
    let mut out = None;
    tx.with_table(table, |t| {
        t.get(key, &mut |v| {
            out = Some(v.to_vec());
            Ok(())
        })
    })?;
    Ok(out)
}
