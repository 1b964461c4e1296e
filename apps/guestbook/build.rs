//! Compiles `static/` into the image: style.css and app.js with their gzip
//! and brotli forms and their ETags, as a table `main.rs` includes
//! (oasis-assets-build). A file that cannot be embedded fails the build,
//! naming it.

fn main() {
    oasis_assets_build::embed_or_exit("static", "assets.rs");
}
