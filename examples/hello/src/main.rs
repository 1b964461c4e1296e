//! hello: logs "hello" four times, one second apart, then exits.
#![no_std]
#![no_main]

use oasis::{Duration, log::info, sleep};

#[oasis::main]
async fn main() -> oasis::Result {
    for _ in 0..4 {
        info!("hello");
        sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}
