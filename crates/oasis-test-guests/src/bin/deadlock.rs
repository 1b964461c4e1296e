//! Awaits a future nothing will ever complete: the VMM must say so and end
//! the guest instead of waiting forever.
#![no_std]
#![no_main]

#[oasis::main]
async fn main() -> oasis::Result {
    core::future::pending::<()>().await;
    Ok(())
}
