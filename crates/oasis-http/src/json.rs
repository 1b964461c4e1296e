//! JSON in and out with `serde_json` (no_std, alloc): a request body read
//! as a typed value, a value written as a response.

use alloc::string::ToString;

use crate::request::Request;
use crate::response::Response;

/// The body of `r` as a `T`; else the response to send (415 when the
/// request's `Content-Type` is not JSON, 400 saying where it does not
/// parse).
pub fn from_request<T: serde::de::DeserializeOwned>(r: &Request) -> Result<T, Response> {
    if let Some(ct) = r.header("content-type") {
        let mime = ct.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") && !mime.ends_with("+json") {
            return Err(Response::text(
                415,
                "415 Unsupported Media Type: send application/json\n",
            ));
        }
    }
    serde_json::from_slice(r.body())
        .map_err(|e| Response::text(400, alloc::format!("400 Bad Request: invalid JSON: {e}\n")))
}

/// `value` as an `application/json` response with `status`; a 500 if it
/// cannot be serialised (a map with non-string keys, say).
pub fn response<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response::bytes(status, "application/json", body),
        Err(e) => Response::text(500, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Body;
    use alloc::string::String;

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Entry {
        name: String,
        n: u32,
    }

    #[test]
    fn reads_typed_json_and_refuses_other_types_and_bad_json() {
        let r = Request::new("POST", "/").with_body(&br#"{"name":"a","n":2}"#[..]);
        assert_eq!(
            r.json::<Entry>().unwrap(),
            Entry {
                name: "a".into(),
                n: 2
            }
        );
        let r = Request::new("POST", "/")
            .with_header("Content-Type", "text/plain")
            .with_body(&b"{}"[..]);
        assert_eq!(r.json::<Entry>().unwrap_err().status(), 415);
        let r = Request::new("POST", "/")
            .with_header("Content-Type", "application/json; charset=utf-8")
            .with_body(&br#"{"name":1}"#[..]);
        assert_eq!(r.json::<Entry>().unwrap_err().status(), 400);
        let out = Response::json(
            201,
            &Entry {
                name: "<b>".into(),
                n: 1,
            },
        );
        assert_eq!(out.header_value("content-type"), Some("application/json"));
        match out.body() {
            Body::Full(b) => assert_eq!(b.as_slice(), br#"{"name":"<b>","n":1}"#),
            b => panic!("{b:?}"),
        }
    }
}
