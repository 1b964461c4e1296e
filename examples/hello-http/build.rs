//! Compiles `static/` (or `OASIS_ASSETS=DIR`) into the image: the files,
//! their gzip and brotli forms and their ETags, as a table `main.rs`
//! includes (oasis-assets-build). A file that cannot be embedded fails the
//! build, naming it.

fn main() {
    oasis_assets_build::embed_or_exit("static", "assets.rs");
}
