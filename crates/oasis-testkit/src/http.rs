//! A small HTTP/1.1 client for tests that need many requests on kept-alive
//! connections (a load of posts, a crash trial) without a process per
//! request: one request at a time on one connection, bodies framed by
//! `Content-Length` (what oasis-http sends for a whole body). Curl stays
//! the client of the tests that check what a user sees.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status, header fields, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The header fields, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first field named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One kept-alive connection.
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Connection {
    /// Connects to `to`; every read and write waits `timeout` at most.
    pub fn connect(to: SocketAddr, timeout: Duration) -> io::Result<Connection> {
        let s = TcpStream::connect_timeout(&to, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Sends `method path` with `headers` and `body` (a `Content-Length`
    /// is added when there is a body) and reads the response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Reply> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.writer.write_all(&bytes)?;
        self.read_reply(method == "HEAD")
    }

    /// Reads one response (no body for a HEAD request).
    pub fn read_reply(&mut self, head_only: bool) -> io::Result<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before a response",
            ));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed inside a head",
                ));
            }
            let l = line.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (n, v) = l
                .split_once(':')
                .ok_or_else(|| bad(format!("bad field {l:?}")))?;
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if reply
            .header("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            return Err(bad("chunked bodies are not read by this client".into()));
        }
        let len: usize = match reply.header("content-length") {
            Some(v) => v
                .parse()
                .map_err(|_| bad(format!("bad Content-Length {v:?}")))?,
            None => 0,
        };
        if !head_only && status != 304 && status != 204 {
            reply.body = vec![0; len];
            self.reader.read_exact(&mut reply.body)?;
        }
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn reads_responses_one_after_another_on_one_connection() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("abc") {
                let n = s.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 201 Created\r\nLocation: /x/1\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            String::from_utf8(seen).unwrap()
        });
        let mut c = Connection::connect(to, Duration::from_secs(5)).unwrap();
        let r = c
            .request("POST", "/x", &[("Content-Type", "text/plain")], b"abc")
            .unwrap();
        assert_eq!(
            (r.status, r.header("location"), r.text().as_str()),
            (201, Some("/x/1"), "ok")
        );
        let r = c.read_reply(false).unwrap();
        assert_eq!((r.status, r.body.len()), (404, 0));
        let sent = server.join().unwrap();
        assert!(sent.starts_with("POST /x HTTP/1.1\r\n"), "{sent}");
        assert!(sent.contains("Content-Length: 3\r\n\r\nabc"), "{sent}");
    }
}
