//! Any bytes given to the VMM as an image are checked or refused, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(image) = oasis_vmm::Image::parse(data.to_vec()) {
        // A checked image's segments lie inside the file and guest memory.
        for s in &image.segments {
            assert!(s.offset + s.file_size <= image.bytes.len());
            assert!(s.addr + s.mem_size <= oasis_abi::layout::MEM_MAX);
        }
        let _ = image.symbolize(image.entry);
    }
});
