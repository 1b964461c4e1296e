//! Recovery at open: the journal's records past the engine's last
//! checkpoint, applied in order to the engine's write transaction.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use redb::TableHandle;

use super::Held;
use super::meta::{self, META};
use crate::backend::LogDevice;
use crate::error::{Error, Result};
use crate::journal::{self, record};

/// Applies, in `tx`, the log records on `dev` past the engine's last
/// checkpoint; returns the last sequence number the engine then holds.
pub(crate) fn recover(tx: &Held, dev: &dyn LogDevice) -> Result<u64> {
    if !tx.tx().list_tables()?.any(|t| t.name() == META) {
        // A new (or foreign) database: no checkpoint, so no log to apply.
        return Ok(0);
    }
    let applied = meta::applied(tx)?;
    let tables: Vec<String> = tx
        .tx()
        .list_tables()?
        .map(|t| t.name().to_string())
        .collect();
    journal::replay(dev, applied, |seq, payload| {
        let malformed = |m: record::Malformed| {
            Error::Engine(format!("log record {seq}: {}", record::describe(&m)))
        };
        let apply = |op: record::Op<'_>| -> Result<()> {
            let (table, key) = match op {
                record::Op::Insert { table, key, .. } | record::Op::Remove { table, key } => {
                    (table, key)
                }
            };
            if !tables.iter().any(|t| t == table) {
                return Err(Error::Engine(format!(
                    "log record {seq} changes table `{table}`, which the database does not hold"
                )));
            }
            match op {
                record::Op::Insert { value, .. } => tx.insert(table, key, value)?,
                record::Op::Remove { .. } => tx.remove(table, key)?,
            };
            Ok(())
        };
        let mut failure = None;
        record::decode::<record::Malformed>(payload, |op| {
            if failure.is_none()
                && let Err(e) = apply(op)
            {
                failure = Some(e);
            }
            Ok(())
        })
        .map_err(malformed)?;
        failure.map_or(Ok(()), Err)
    })
}
