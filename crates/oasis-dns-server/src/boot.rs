//! A server started as a unikernel starts it: the acknowledged updates
//! kept on a block device replayed onto the zones just loaded, the zones
//! signed here signed, and both attached to the [`Server`] so that later
//! updates are made durable there and signed ([`Server::boot`]).

use alloc::boxed::Box;
use alloc::vec::Vec;

use oasis::log::{info, warn};
use oasis_dns::engine::{Catalog, Zone};

use crate::signing::{Signing, strip_signatures};
use crate::update::{StoredLog, replay};
use crate::{Config, Server};

impl Server {
    /// A server answering from `catalog` as `config` says, which keeps the
    /// updates it acknowledges on `storage` (the block device `storage`)
    /// and signs the zones of `signing` here.
    ///
    /// When `config` allows dynamic UPDATE, the update log on `storage` is
    /// opened and its steps replayed onto `catalog` (for a zone signed
    /// here, without the signer's records: it is signed again next);
    /// without `storage`, updates are kept in memory only, which is logged
    /// as a warning. Then the zones of `signing` are signed with
    /// signatures made now. An error names the device or the zone.
    pub fn boot<B: oasis::Block + Send + 'static>(
        mut catalog: Catalog,
        config: Config,
        storage: Option<B>,
        signing: Signing,
    ) -> oasis::Result<Server> {
        // Acknowledged updates, kept on `storage` and replayed onto the
        // zones just loaded.
        let mut log = None;
        let mut replayed = Vec::new();
        // The zones changed by the replay or the signing, compiled once at the end.
        let mut changed: Option<Vec<Zone>> = None;
        if !config.update.is_empty() {
            match storage {
                Some(disk) => {
                    let stored = StoredLog::open(disk)
                        .map_err(|e| alloc::format!("block device `storage`: {e}"))?;
                    let steps = stored
                        .steps()
                        .map_err(|e| alloc::format!("block device `storage`: {e}"))?;
                    // Zones signed here are signed below, after the replay.
                    let steps = strip_signatures(&signing, steps);
                    if !steps.is_empty() {
                        let zones = changed.insert(catalog.zones().to_vec());
                        replayed = replay(zones, steps);
                        replayed.retain(|(apex, _)| signing.keys(apex).is_none());
                    }
                    info!(
                        "dynamic UPDATE: acknowledged updates are kept on block device `storage` \
                         ({} replayed)",
                        replayed.len()
                    );
                    log = Some(stored);
                }
                None => warn!(
                    "dynamic UPDATE: no block device `storage`: updates are kept in memory only \
                     and lost at restart"
                ),
            }
        }
        let mut signed = Vec::new();
        if !signing.is_empty() {
            let started = oasis::Instant::now();
            let zones = changed.get_or_insert_with(|| catalog.zones().to_vec());
            signed = signing.sign_all(zones, crate::signing::now())?;
            info!(
                "signed {} zone(s) in {} ms",
                signed.len(),
                started.elapsed().as_millis()
            );
        }
        if let Some(zones) = changed {
            catalog = Catalog::new(zones)?;
        }
        let mut server = Server::new(catalog, config);
        if let Some(log) = log {
            server = server.with_update_log(Box::new(log), replayed);
        }
        if !signing.is_empty() {
            server = server.with_signing(signing, signed);
        }
        Ok(server)
    }
}
