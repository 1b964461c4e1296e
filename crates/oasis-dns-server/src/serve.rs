//! Serving a [`Catalog`] over UDP and TCP on any oasis network stack.
//!
//! UDP answers each query with the catalog's allocation-free
//! [`Catalog::answer`] through [`UdpSocket::serve`]: in batches on the
//! socket stack (one `recvmmsg`/`sendmmsg` per burst), in place as the
//! driver receives it on the direct stack; a response-rate limiter
//! ([`crate::rrl`]), when configured, then lets each answer go, truncates
//! it or drops it — unless the query carried a valid server cookie (RFC
//! 7873): its source address is proven, so it cannot be a reflection.
//! Cookies are checked, and the response's COOKIE option written, by
//! [`oasis_dns::cookie::CookieCheck`] inside the catalog's answer. TCP,
//! never limited, takes length-prefixed
//! queries, several per connection, within limits on connections that
//! close idle ones first under pressure ([`crate::conns`], RFC 7766); it
//! also serves AXFR and IXFR to the addresses allowed to
//! transfer (IXFR also over UDP, the current SOA alone when the changes do
//! not fit). Dynamic UPDATE is answered over both ([`crate::update`]). A NOTIFY for a zone served here as a secondary is acknowledged
//! and wakes that zone's refresh task.
//!
//! The loops are generic over the stack's socket types, so each stack gets
//! its own monomorphic copy: no dynamic dispatch on the answering path.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::net::IpAddr;
use oasis::log::{debug, info, warn};
use oasis_dns::cookie::{CookieCheck, Mode, Outcome};
use oasis_dns::engine::{Catalog, Query, TcpFramer, Transport};
use oasis_dns::tsig::{Key, Signer};
use oasis_dns::wire::{Rcode, Type};
use oasis_dns::xfr::notify_ack;
use oasis_net::prelude::*;
use oasis_net::{NetError, Stack};

use oasis::Instant;

use crate::conns::{Conns, TcpLimits, Ticket};
use crate::rrl::{Rrl, Verdict, slip};
use crate::service::{Auth, Notified, Service, unix_now};

/// Answers UDP queries on `socket` until the socket fails, each one where
/// the stack lets it be answered: on the direct stack over kvm, read where
/// it was received and written where it is sent ([`UdpSocket::serve`]).
/// With a limiter, each answer is then sent, truncated or dropped as it
/// says ([`crate::rrl`]), in place: nothing is allocated per query. An
/// answer to a query with a valid server cookie is never limited.
pub async fn serve_udp<U: UdpSocket>(
    socket: U,
    service: Rc<Service>,
    rrl: Option<Rc<Rrl>>,
) -> Result<(), NetError> {
    socket
        .serve(move |query, peer, out| {
            let catalog = service.catalog();
            let (n, cookie) = answer(&service, &catalog, query, peer.ip(), Transport::Udp, out)?;
            let Some(rrl) = &rrl else { return Some(n) };
            if cookie.is_valid() {
                return Some(n);
            }
            match rrl.check(Instant::now().as_nanos(), peer.ip(), &out[..n]) {
                Verdict::Send => Some(n),
                Verdict::Slip => Some(slip(out, n)),
                Verdict::Drop => None,
            }
        })
        .await
}

/// One response. A request signed with a TSIG key known here is verified
/// first ([`Service::authenticate`]): one that fails gets its error
/// response (FORMERR, or NOTAUTH with BADKEY, BADSIG, BADTIME, BADTRUNC),
/// one that verifies is answered as below and the response signed, with
/// room for the signature kept within the size limit. Then: a NOTIFY for a
/// secondary zone is acknowledged (or REFUSED if the zone wants it signed
/// and it is not), a CHAOS query for the version or identity answered
/// ([`crate::ident`]), anything else goes to the catalog (and gets the
/// NSID if it asked). Both carry the DNS cookie, checked as the catalog
/// parses the query. `None`: not worth an answer (e.g. a response);
/// dropped, and counted by the catalog. Gives the length and what the
/// query's cookie was.
fn answer(
    service: &Service,
    catalog: &Catalog,
    query: &[u8],
    peer: IpAddr,
    t: Transport,
    out: &mut [u8],
) -> Option<(usize, Outcome)> {
    if !service.has_keys() {
        return respond(service, catalog, query, peer, t, out, None);
    }
    let now = unix_now();
    match service.authenticate(query, now) {
        Auth::Unsigned => respond(service, catalog, query, peer, t, out, None),
        Auth::Failed(response, e) => {
            debug!("dns: TSIG check failed: {e}");
            let r = response?;
            out.get_mut(..r.len())?.copy_from_slice(&r);
            Some((r.len(), Outcome::Absent))
        }
        Auth::Signed { stripped, key, mac } => {
            let (n, cookie) = respond(service, catalog, &stripped, peer, t, out, Some(&key))?;
            let mut signed = out.get(..n)?.to_vec();
            Signer::new(&key, Some(&mac)).sign(&mut signed, now);
            out.get_mut(..signed.len())?.copy_from_slice(&signed);
            Some((signed.len(), cookie))
        }
    }
}

/// The response to `query` (without a TSIG), leaving room for `key`'s TSIG
/// record when the response is to be signed, and what its cookie was.
fn respond(
    service: &Service,
    catalog: &Catalog,
    query: &[u8],
    peer: IpAddr,
    t: Transport,
    out: &mut [u8],
    key: Option<&Key>,
) -> Option<(usize, Outcome)> {
    let reserve = key.map_or(0, Key::tsig_len);
    let room = out.len().checked_sub(reserve)?;
    let out = &mut out[..room];
    match service.notify(query, key) {
        Notified::NotOurs => {}
        Notified::Accepted => return Some((notify_ack(query, out)?, Outcome::Absent)),
        Notified::Refused => {
            let n = notify_ack(query, out)?;
            out[3] = out[3] & 0xf0 | Rcode::REFUSED.0 as u8;
            return Some((n, Outcome::Absent));
        }
    }
    if service.takes_updates() && oasis_dns::update::is_update(query) {
        return Some((service.update(query, peer, key, out)?, Outcome::Absent));
    }
    // IXFR over UDP (its query carries the client's SOA in the authority
    // section, which no other query here has): to those allowed to
    // transfer, the whole response if it fits, else the current SOA.
    // Over TCP, one that gets here was not served (not allowed, or no
    // such zone): REFUSED, as AXFR is.
    if query.get(8..10).is_some_and(|ns| ns != [0, 0]) && oasis_dns::xfr::is_ixfr(query) {
        let n = match t {
            Transport::Udp => ixfr_udp(service, catalog, query, peer, key, out),
            _ => None,
        };
        let n = n.or_else(|| oasis_dns::xfr::refuse(query, out))?;
        return Some((n, Outcome::Absent));
    }
    let mut cookie = CookieCheck::new(service.cookies(), peer, unix_seconds);
    let id = service.identity();
    if let Some(n) = id.chaos(query, out) {
        // The catalog does not see CHAOS answers: their cookie is checked
        // here (a rare path, parsed again). One to be refused for its
        // cookie goes on to the catalog, which refuses it.
        let edns = match service.cookies().mode {
            Mode::Off => None,
            _ => Query::parse(query).ok().and_then(|q| q.edns),
        };
        match edns {
            Some(e) if e.cookie_at.is_some() => {
                if oasis_dns::engine::EdnsExtension::check(&mut cookie, query, &e, t).is_none() {
                    service.count_cookie(&cookie);
                    let n = crate::ident::append_options(query, t, out, n, &cookie).unwrap_or(n);
                    return Some((n, cookie.outcome()));
                }
            }
            _ => return Some((n, Outcome::Absent)),
        }
    }
    let n = catalog.answer_with(query, t, out, &mut cookie, reserve)?;
    service.count_cookie(&cookie);
    Some((id.add_nsid(query, t, out, n), cookie.outcome()))
}

/// An IXFR over UDP, if `query` is one from a peer allowed to transfer:
/// the whole response if it fits the client's UDP size, else the current
/// SOA alone (RFC 1995 §2). Gives its length.
fn ixfr_udp(
    service: &Service,
    catalog: &Catalog,
    query: &[u8],
    peer: IpAddr,
    key: Option<&Key>,
    out: &mut [u8],
) -> Option<usize> {
    if !service.may_transfer(peer, key) {
        return None;
    }
    // `out` already leaves room for a TSIG; the client's size must too.
    let limit = oasis_dns::xfr::udp_limit(query)
        .saturating_sub(key.map_or(0, Key::tsig_len))
        .min(out.len());
    let sent = service.transfer(catalog, query).ok()?;
    let m = oasis_dns::xfr::ixfr_udp(sent.transfer, limit)?;
    info!("dns: {} to {peer} over UDP ({} bytes)", sent.what, m.len());
    out.get_mut(..m.len())?.copy_from_slice(&m);
    Some(m.len())
}

/// The wall clock in seconds since the epoch, modulo 2³² (a cookie's
/// timestamp).
fn unix_seconds() -> u32 {
    unix_now() as u32
}

/// Accepts TCP connections on `listener` and serves each in its own task,
/// within `conns`'s limits (see [`crate::conns`]).
pub async fn serve_tcp<L>(
    listener: L,
    service: Rc<Service>,
    limits: TcpLimits,
) -> Result<(), NetError>
where
    L: TcpListener,
{
    let conns = Conns::new(limits);
    // Answers are made here (one connection at a time: the executor is
    // single-threaded) and copied out at their size, so a connection holds
    // only what it sends, not a largest message's worth.
    let scratch = Rc::new(RefCell::new(vec![0u8; 2 + 65535]));
    loop {
        let (conn, peer) = listener.accept().await?;
        let Some(ticket) = conns.admit(peer.ip()) else {
            let c = conns.counts();
            debug!(
                "dns: TCP connection from {peer} refused: no room, none idle \
                 ({} open; so far {} admitted, {} idle ones closed for room, {} refused)",
                c.open, c.admitted, c.evicted, c.refused
            );
            continue;
        };
        let (service, conns, scratch) = (service.clone(), conns.clone(), scratch.clone());
        oasis::spawn(async move {
            if let Err(e) = serve_connection(conn, &service, &conns, &ticket, &scratch).await {
                debug!("dns: TCP connection with {peer}: {e}");
            }
        });
        // Let the new connection read the query it may already hold
        // before the next one is admitted (and perhaps needs room).
        oasis::yield_now().await;
    }
}

/// Why a TCP connection ended early.
#[derive(Debug)]
enum ConnEnd {
    Net(NetError),
    Idle,
    Evicted,
    Framing,
}

impl core::fmt::Display for ConnEnd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConnEnd::Net(e) => write!(f, "{e}"),
            ConnEnd::Idle => f.write_str("idle, closed"),
            ConnEnd::Evicted => f.write_str("idle, closed to make room for a new connection"),
            ConnEnd::Framing => f.write_str("malformed length prefix, closed"),
        }
    }
}

async fn serve_connection<S: TcpStream>(
    mut conn: S,
    service: &Service,
    conns: &Conns,
    ticket: &Ticket,
    scratch: &RefCell<Vec<u8>>,
) -> Result<(), ConnEnd> {
    let mut framer = TcpFramer::new();
    let mut msg = Vec::new();
    loop {
        // Answer every whole query already received, in order.
        let mut answered = false;
        loop {
            let query = match framer.next_message() {
                Ok(Some(q)) => q,
                Ok(None) => break,
                Err(_) => return Err(ConnEnd::Framing),
            };
            ticket.busy();
            answered = true;
            let catalog = service.catalog();
            let peer = conn.peer_addr();
            // A zone transfer: from an allowed address, signed with a
            // required key if any is; every message signed when the
            // request was (RFC 8945 §5.3.1).
            let now = unix_now();
            let ixfr = oasis_dns::xfr::is_ixfr(query);
            let is_xfr = ixfr || Query::parse(query).is_ok_and(|q| q.qtype == Type::AXFR);
            let auth = match service.has_keys() && is_xfr {
                true => service.authenticate(query, now),
                false => Auth::Unsigned,
            };
            let (request, mut signer, key) = match &auth {
                Auth::Signed { stripped, key, mac } => {
                    (&stripped[..], Some(Signer::new(key, Some(mac))), Some(key))
                }
                _ => (query, None, None),
            };
            if let Auth::Failed(_, e) = &auth {
                info!("dns: transfer from {peer} refused: TSIG {e}");
            } else if is_xfr && service.may_transfer(peer.ip(), key) {
                // Only now is the zone copied out for the transfer.
                if let Ok(out) = service.transfer(&catalog, request) {
                    if out.what != "AXFR" {
                        info!("dns: {} to {peer}", out.what);
                    }
                    for mut m in out.transfer {
                        if let Some(s) = &mut signer {
                            s.sign(&mut m, now);
                        }
                        conn.write_all(&(m.len() as u16).to_be_bytes())
                            .await
                            .map_err(ConnEnd::Net)?;
                        conn.write_all(&m).await.map_err(ConnEnd::Net)?;
                    }
                    continue;
                }
            } else if is_xfr {
                info!(
                    "dns: {} from {peer} refused: {}",
                    if ixfr { "IXFR" } else { "AXFR" },
                    match key {
                        Some(k) => alloc::format!("not allowed with key {}", k.name()),
                        None if service.has_keys() => "not allowed, or unsigned".into(),
                        None => alloc::string::String::from("address not allowed"),
                    }
                );
            }
            msg.clear();
            {
                let mut out = scratch.borrow_mut();
                let peer = conn.peer_addr().ip();
                if let Some((n, _)) = answer(
                    service,
                    &catalog,
                    query,
                    peer,
                    Transport::Tcp,
                    &mut out[2..],
                ) {
                    out[..2].copy_from_slice(&(n as u16).to_be_bytes());
                    msg.extend_from_slice(&out[..2 + n]);
                }
            }
            if !msg.is_empty() {
                conn.write_all(&msg).await.map_err(ConnEnd::Net)?;
            }
        }
        // Waiting for the next query (or the rest of one): idle. A client
        // that dribbles a query byte by byte stays idle since its last
        // answer, so it is the first to make room.
        if answered {
            ticket.idle();
        }
        let read = oasis::timeout(conns.idle_timeout(), conn.read(framer.spare()));
        match oasis::select(read, ticket.closer.closed()).await {
            oasis::Either::Right(()) => return Err(ConnEnd::Evicted),
            oasis::Either::Left(Err(_)) => return Err(ConnEnd::Idle),
            oasis::Either::Left(Ok(Err(e))) => return Err(ConnEnd::Net(e)),
            oasis::Either::Left(Ok(Ok(0))) => {
                let _ = conn.shutdown();
                return Ok(());
            }
            oasis::Either::Left(Ok(Ok(n))) => framer.filled(n),
        }
    }
}

/// Serves `service` on `port` of `stack`, over UDP (limited by `rrl`, if
/// given) and TCP, until either fails.
pub async fn serve<S: Stack>(
    stack: &S,
    service: Rc<Service>,
    port: u16,
    tcp: TcpLimits,
    rrl: Option<Rc<Rrl>>,
) -> oasis::Result {
    let udp = stack.bind_udp(port)?;
    let listener = stack.listen_tcp(port, 64)?;
    let result = oasis::select(
        serve_udp(udp, service.clone(), rrl),
        serve_tcp(listener, service, tcp),
    )
    .await;
    let (which, e) = match result {
        oasis::Either::Left(r) => ("UDP", r),
        oasis::Either::Right(r) => ("TCP", r),
    };
    match e {
        Ok(()) => Ok(()),
        Err(e) => {
            warn!("dns: {which} serving stopped: {e}");
            Err(e.into())
        }
    }
}
