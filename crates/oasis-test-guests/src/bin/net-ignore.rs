//! Takes its net device and never reads it, sleeping instead: frames arriving
//! meanwhile must not wake it (its RX ring fills up and stays full), so the
//! idle loop stays idle.
#![no_std]
#![no_main]

use oasis::{Duration, Net, sleep};

oasis::boot_arg! {
    /// How long to sleep.
    static SECONDS: u64 = Arg::new("seconds", "how long to sleep without reading the device").default("2");
}

#[oasis::main(net = "service")]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let net = env.net("service")?;
    sleep(Duration::from_secs(SECONDS.value().unwrap_or(2))).await;
    oasis::log::info!("slept, device MTU {}", net.mtu());
    Ok(())
}
