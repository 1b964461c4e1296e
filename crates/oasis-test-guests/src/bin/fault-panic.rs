//! Panics: the VMM must exit non-zero naming the panic's message and location.
#![no_std]
#![no_main]

#[oasis::main]
async fn main() -> oasis::Result {
    if core::hint::black_box(true) {
        panic!("deliberate panic from the fault test guest");
    }
    Ok(())
}
