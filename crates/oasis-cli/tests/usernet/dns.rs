//! A DNS client just big enough for the tests: one question out, the
//! answer section's records back (RFC 1035 §4.1).

/// QTYPE A.
pub const TYPE_A: u16 = 1;
/// TYPE CNAME.
pub const TYPE_CNAME: u16 = 5;

/// A query for `name` and `qtype` in class IN, without recursion desired.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(m: &[u8], mut at: usize) -> usize {
    loop {
        let len = *m.get(at).expect("name inside the message");
        match len {
            0 => return at + 1,
            l if l & 0xc0 == 0xc0 => return at + 2,
            l => at += 1 + usize::from(l),
        }
    }
}

fn u16_at(m: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([m[at], m[at + 1]])
}

/// One answer record: (type, rdata).
pub fn answers(m: &[u8]) -> Vec<(u16, Vec<u8>)> {
    assert!(m.len() >= 12, "a message has a 12-byte header: {m:?}");
    let (qd, an) = (u16_at(m, 4), u16_at(m, 6));
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(m, at) + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        at = skip_name(m, at);
        let rtype = u16_at(m, at);
        let rdlen = usize::from(u16_at(m, at + 8));
        at += 10;
        out.push((rtype, m[at..at + rdlen].to_vec()));
        at += rdlen;
    }
    out
}

/// Checks the reply to `www.example.com A` from apps/dns's built-in zone:
/// our ID, a response, authoritative, NOERROR, the CNAME to example.com and
/// its A record 192.0.2.80.
pub fn check_www_answer(reply: &[u8], id: u16) {
    assert!(reply.len() >= 12, "short reply: {reply:?}");
    assert_eq!(u16_at(reply, 0), id, "the reply's ID");
    let flags = u16_at(reply, 2);
    assert!(flags & 0x8000 != 0, "QR: a response");
    assert!(flags & 0x0400 != 0, "AA: authoritative");
    assert_eq!(flags & 0x000f, 0, "RCODE NOERROR");
    let records = answers(reply);
    assert!(
        records.iter().any(|(t, _)| *t == TYPE_CNAME),
        "a CNAME in {records:?}"
    );
    assert!(
        records.contains(&(TYPE_A, vec![192, 0, 2, 80])),
        "A 192.0.2.80 in {records:?}"
    );
}

#[test]
fn queries_and_answers_read_as_on_the_wire() {
    let q = query(0x1234, "www.example.com", TYPE_A);
    assert_eq!(
        q,
        [
            0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 7, b'e', b'x', b'a',
            b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1
        ]
    );
    // The reply a server gives: the question, then CNAME and A with pointers.
    let mut r = q.clone();
    r[2] = 0x84;
    r[7] = 2;
    r.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 2, 0xc0, 16]);
    r.extend_from_slice(&[0xc0, 16, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 80]);
    check_www_answer(&r, 0x1234);
}

/// Asks `to` over UDP for `www.example.com A` with ID `id`, up to five
/// times a second apart; the reply with that ID. A late answer to an
/// earlier try (a busy CI machine) may still be in the socket: replies with
/// another ID are skipped.
pub fn ask_www(sock: &std::net::UdpSocket, to: std::net::SocketAddr, id: u16) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .unwrap();
    let query = query(id, "www.example.com", TYPE_A);
    let mut buf = vec![0u8; 4096];
    (0..5).find_map(|_| {
        sock.send_to(&query, to).unwrap();
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n >= 2 && u16_at(&buf, 0) == id {
                return Some(buf[..n].to_vec());
            }
        }
        None
    })
}
