//! Cost of answering a compiled-in static file: `Assets::respond` (a
//! binary search of a table of 100 files, `Accept-Encoding` read, the
//! response built) against `Asset::response` (one file, no choice), each
//! with `Response::prepare` (the head written, as the server does), for a
//! 10 KiB file. The bytes are sent where they lie in both, so their size
//! does not change these figures.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use oasis_http::assets::{AcceptEncoding, Assets, File, Variant};
use oasis_http::response::Conditions;
use oasis_http::{Asset, Request};

fn table(body: &'static [u8]) -> &'static Assets {
    let mut files = Vec::new();
    for i in 0..100 {
        let path: &'static str = Box::leak(format!("dir/file-{i:03}.css").into_boxed_str());
        files.push(File::new(
            path,
            "text/css; charset=utf-8",
            Variant::new(body, "\"identity-tag-xxxx\""),
            Some(Variant::new(&body[..4000], "\"gzip-tag-xxxxxxx-gz\"")),
            Some(Variant::new(&body[..3000], "\"brotli-tag-xxxxxx-br\"")),
        ));
    }
    Box::leak(Box::new(Assets::new(Box::leak(files.into_boxed_slice()))))
}

fn bench(c: &mut Criterion) {
    let body: &'static [u8] = Box::leak(vec![b'x'; 10 * 1024].into_boxed_slice());
    let assets = table(body);
    let asset = Asset::new("text/css; charset=utf-8", body);
    let date = "Mon, 07 Dec 2026 20:00:00 GMT";
    let req = Request::new("GET", "/static/dir/file-050.css")
        .with_header("Host", "example.com")
        .with_header("Accept-Encoding", "gzip, deflate, br, zstd");
    let cond = Conditions::of(&req);

    c.bench_function("assets/Asset::response+prepare (10 KiB)", |b| {
        b.iter(|| black_box(asset.response().prepare(&cond, Some(date))))
    });
    c.bench_function(
        "assets/Assets::respond+prepare (10 KiB, br, 1 of 100)",
        |b| {
            b.iter(|| {
                black_box(
                    assets
                        .respond(black_box(&req), black_box("dir/file-050.css"))
                        .prepare(&cond, Some(date)),
                )
            })
        },
    );
    c.bench_function("assets/Assets::find (1 of 100)", |b| {
        b.iter(|| black_box(assets.find(black_box("dir/file-050.css"))))
    });
    c.bench_function("assets/AcceptEncoding::of (4 codings)", |b| {
        b.iter(|| black_box(AcceptEncoding::of(black_box(&req))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
