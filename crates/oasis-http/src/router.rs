//! A small router: method + path pattern → async handler.
//!
//! A pattern is `/`-separated segments: a literal (`users`), a capture
//! (`:id`, one segment) or, last, a rest (`*path`, the remaining segments,
//! possibly none). Captures are percent-decoded; literals are compared with
//! the decoded segment. Routes are tried in the order they were added.
//! A path no route has is 404; a path some route has under another method
//! is 405 with `Allow`. HEAD is served by a HEAD route, else by the GET
//! route (the server sends the head only); OPTIONS gets 204 with `Allow`.
//!
//! A `*rest` capture is what the client sent: it may hold `..` segments,
//! and a handler that maps it to files must refuse those itself.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;

use crate::assets::Assets;
use crate::form::percent_decode;
use crate::request::Request;
use crate::response::Response;

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Response>>>;
type Handler = Rc<dyn Fn(Request) -> HandlerFuture>;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
    Rest(String),
}

struct Route {
    method: String,
    pattern: Vec<Segment>,
    handler: Handler,
}

/// Routes requests to handlers.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

fn parse_pattern(pattern: &str) -> Vec<Segment> {
    let segs: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let last = segs.len().saturating_sub(1);
    segs.iter()
        .enumerate()
        .map(|(i, s)| {
            if let Some(name) = s.strip_prefix(':') {
                Segment::Capture(name.to_string())
            } else if let (Some(name), true) = (s.strip_prefix('*'), i == last) {
                Segment::Rest(name.to_string())
            } else {
                Segment::Literal(s.to_string())
            }
        })
        .collect()
}

/// The captures of `path` under `pattern`, if it matches.
fn matches(pattern: &[Segment], path: &str) -> Option<Vec<(String, String)>> {
    let mut segs = path.split('/').filter(|s| !s.is_empty());
    let mut caps = Vec::new();
    for p in pattern {
        match p {
            Segment::Rest(name) => {
                let rest: Vec<String> = segs
                    .map(|s| percent_decode(s, false).into_owned())
                    .collect();
                caps.push((name.clone(), rest.join("/")));
                return Some(caps);
            }
            Segment::Literal(l) => {
                if percent_decode(segs.next()?, false) != l.as_str() {
                    return None;
                }
            }
            Segment::Capture(name) => {
                caps.push((
                    name.clone(),
                    percent_decode(segs.next()?, false).into_owned(),
                ));
            }
        }
    }
    segs.next().is_none().then_some(caps)
}

impl Router {
    /// A router with no routes (everything is 404).
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds a route: `method` (`GET`, `POST`, …) on paths matching
    /// `pattern` to `handler`.
    pub fn route<F, Fut>(mut self, method: &str, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.routes.push(Route {
            method: method.to_string(),
            pattern: parse_pattern(pattern),
            handler: Rc::new(move |r| Box::pin(handler(r))),
        });
        self
    }

    /// [`Router::route`] for GET (and so HEAD).
    pub fn get<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.route("GET", pattern, handler)
    }

    /// [`Router::route`] for POST.
    pub fn post<F, Fut>(self, pattern: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + 'static,
        Fut: Future<Output = Response> + 'static,
    {
        self.route("POST", pattern, handler)
    }

    /// Serves the compiled-in files of `assets` under `prefix` (GET and
    /// so HEAD): `{prefix}/css/site.css` is the table's `css/site.css`,
    /// `{prefix}/` its `index.html` (see [`crate::assets`]). `prefix` is
    /// literal segments (`/static`, or `/` for the whole site, added last
    /// so the other routes come first).
    pub fn assets(self, prefix: &str, assets: &'static Assets) -> Router {
        let pattern = alloc::format!("{}/*asset", prefix.trim_end_matches('/'));
        self.get(&pattern, move |r: Request| {
            let response = assets.respond(&r, r.param("asset").unwrap_or(""));
            async move { response }
        })
    }

    /// The methods routes have for `path`, as an `Allow` value.
    fn allowed(&self, path: &str) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for r in self
            .routes
            .iter()
            .filter(|r| matches(&r.pattern, path).is_some())
        {
            let mut add = |m| {
                if !methods.contains(&m) {
                    methods.push(m)
                }
            };
            add(r.method.as_str());
            if r.method == "GET" {
                add("HEAD");
            }
        }
        if !methods.is_empty() {
            methods.push("OPTIONS");
        }
        methods.join(", ")
    }

    /// Finds the handler for `request` and runs it, or answers 404, 405 or
    /// (OPTIONS) 204 itself.
    pub async fn handle(&self, mut request: Request) -> Response {
        let find = |method: &str| {
            self.routes.iter().find_map(|r| {
                (r.method == method)
                    .then(|| matches(&r.pattern, request.path()))
                    .flatten()
                    .map(|caps| (r.handler.clone(), caps))
            })
        };
        let found = match find(request.method()) {
            None if request.method() == "HEAD" => find("GET"),
            found => found,
        };
        if let Some((handler, caps)) = found {
            request.params = caps;
            return handler(request).await;
        }
        let allow = self.allowed(request.path());
        if allow.is_empty() {
            return Response::text(404, "404 Not Found\n");
        }
        if request.method() == "OPTIONS" {
            return Response::new(204).header("Allow", allow);
        }
        Response::text(
            405,
            alloc::format!("405 Method Not Allowed: {} takes {allow}\n", request.path()),
        )
        .header("Allow", allow)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::response::Body;

    fn block_on<F: Future>(f: F) -> F::Output {
        oasis_rt::platform::install(oasis_hosted::services());
        oasis_rt::exec::block_on(&oasis_hosted::reactor::Reactor::new().unwrap(), f)
    }

    fn text(r: &Response) -> String {
        match r.body() {
            Body::Full(b) => String::from_utf8_lossy(b.as_slice()).into_owned(),
            _ => String::new(),
        }
    }

    fn router() -> Router {
        Router::new()
            .get("/", |_| async { Response::text(200, "root") })
            .get("/users/:id", |r: Request| async move {
                Response::text(200, alloc::format!("user {}", r.param("id").unwrap_or("?")))
            })
            .route("DELETE", "/users/:id", |_| async { Response::new(204) })
            .get("/users/:id/posts/:post", |r: Request| async move {
                Response::text(
                    200,
                    alloc::format!("{}:{}", r.param("id").unwrap(), r.param("post").unwrap()),
                )
            })
            .get("/files/*path", |r: Request| async move {
                Response::text(200, alloc::format!("file [{}]", r.param("path").unwrap()))
            })
    }

    static FILES: [crate::assets::File; 2] = [
        crate::assets::File::new(
            "a b.txt",
            "text/plain",
            crate::assets::Variant::new(b"ab", "\"ab\""),
            None,
            None,
        ),
        crate::assets::File::new(
            "index.html",
            "text/html",
            crate::assets::Variant::new(b"<p>", "\"i\""),
            None,
            None,
        ),
    ];
    static ASSETS: Assets = Assets::new(&FILES);

    #[test]
    fn assets_are_served_under_their_prefix() {
        for prefix in ["/s", "/s/"] {
            let r = router().assets(prefix, &ASSETS);
            let go = |p: &str| block_on(r.handle(Request::new("GET", p)));
            assert_eq!(text(&go("/s/a%20b.txt")), "ab");
            assert_eq!(text(&go("/s/")), "<p>");
            let moved = go("/s");
            assert_eq!(
                (moved.status(), moved.header_value("location")),
                (301, Some("/s/"))
            );
            assert_eq!(go("/s/x").status(), 404);
            assert_eq!(text(&go("/users/7")), "user 7");
            let head = block_on(r.handle(Request::new("HEAD", "/s/a%20b.txt")));
            assert_eq!(head.status(), 200);
        }
        let root = Router::new().assets("/", &ASSETS);
        assert_eq!(
            text(&block_on(root.handle(Request::new("GET", "/")))),
            "<p>"
        );
    }

    #[test]
    fn routes_by_method_and_pattern_with_decoded_captures() {
        let r = router();
        let go = |m: &str, p: &str| block_on(r.handle(Request::new(m, p)));
        let resp = go("GET", "/");
        assert_eq!((resp.status(), text(&resp).as_str()), (200, "root"));
        assert_eq!(text(&go("GET", "/users/J%C3%BCrg")), "user Jürg");
        assert_eq!(text(&go("HEAD", "/users/7")), "user 7");
        let with_head = router().route("HEAD", "/", |_| async { Response::text(200, "head") });
        let resp = block_on(with_head.handle(Request::new("HEAD", "/")));
        assert_eq!(text(&resp), "head");
        assert_eq!(text(&go("GET", "/users/7/posts/9")), "7:9");
        assert_eq!(text(&go("GET", "/files/a/b%2Fc/d")), "file [a/b/c/d]");
        assert_eq!(text(&go("GET", "/files")), "file []");
        assert_eq!(go("DELETE", "/users/7").status(), 204);
        assert_eq!(go("GET", "/users").status(), 404);
        assert_eq!(go("GET", "/users/7/extra").status(), 404);
        let resp = go("POST", "/users/7");
        assert_eq!(resp.status(), 405);
        assert_eq!(
            resp.header_value("allow"),
            Some("GET, HEAD, DELETE, OPTIONS")
        );
        let resp = go("OPTIONS", "/users/7");
        assert_eq!(
            (resp.status(), resp.header_value("allow")),
            (204, Some("GET, HEAD, DELETE, OPTIONS"))
        );
    }
}
