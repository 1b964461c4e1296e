//! noop: returns at once. Measures boot and exit, nothing else.
#![no_std]
#![no_main]

#[oasis::main]
async fn main() -> oasis::Result {
    Ok(())
}
