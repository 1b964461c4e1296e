//! Test devices: block devices that tests, fuzz targets and crash trials
//! run a store on — a RAM disk ([`mem::MemBlock`]) and a simulated power cut
//! over any device ([`fault::PowerCut`]). Reached as `oasis_store::mem` and
//! `oasis_store::fault`, only with the `test-devices` feature: a production
//! build of the store holds neither.
//!
//! What they may use: oasis-rt's [`Block`](oasis_rt::device::Block) and each
//! other. Nothing of the store: they stand where a real device would.

pub mod fault;
pub mod mem;
