//! Any bytes as a request's path, query and body (split at the first two
//! NULs) routed through a router with literal, `:param` and `*rest`
//! routes whose handlers decode the query, a form and JSON: routing and
//! decoding must never panic, captures must come out of the path, and the
//! answer must be one of the statuses the routes and the router give.
#![no_main]

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use oasis_http::{Request, Response, Router};

fn router() -> Router {
    Router::new()
        .get("/", |_| async { Response::text(200, "root") })
        .get("/users/:id/posts/:post", |r: Request| async move {
            let id = r.param("id").unwrap_or_default().to_string();
            let q = r.query_pairs();
            let _ = q.get_all("tag").count();
            Response::text(200, id + q.get("x").unwrap_or(""))
        })
        .post("/form/:name", |r: Request| async move {
            let f = r.form();
            Response::json(200, &f.0)
        })
        .post("/json", |r: Request| async move {
            match r.json::<serde_json::Value>() {
                Ok(v) => Response::json(200, &v),
                Err(resp) => resp,
            }
        })
        .get("/files/*path", |r: Request| async move {
            Response::text(200, r.param("path").unwrap_or_default().to_string())
        })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let path = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let query = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();
    let method = match data.first().map(|b| b % 4) {
        Some(0) => "POST",
        Some(1) => "HEAD",
        Some(2) => "DELETE",
        _ => "GET",
    };
    let target = format!("/{}?{}", path.trim_start_matches('/'), query);
    let request = Request::new(method, &target)
        .with_header("Content-Type", if body.first() == Some(&b'{') { "application/json" } else { "application/x-www-form-urlencoded" })
        .with_body(body);
    let router = router();
    let mut fut = pin!(router.handle(request));
    // The handlers never wait: one poll answers.
    let Poll::Ready(resp) = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("a handler waited");
    };
    assert!(matches!(resp.status(), 200 | 204 | 400 | 404 | 405 | 415 | 500), "{}", resp.status());
});
