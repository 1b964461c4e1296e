//! Zone transfers on the network: a secondary's refresh task (AXFR from its
//! primary at start, then IXFR — RFC 1995, falling back to AXFR — on
//! NOTIFY or when the SOA refresh timer says so, RFC 1034 §4.3.5 and RFC
//! 1996; each new copy's difference from the last kept in the zone's
//! journal for IXFR out), and NOTIFY sent to the secondaries of the
//! zones served here: every zone at start, and a secondary zone again each
//! time a transfer brings a new copy, so secondaries of a secondary follow
//! a change without waiting for their refresh timers, and a primary zone
//! each time an UPDATE changes it.

use alloc::format;
use alloc::rc::Rc;
use alloc::vec;
use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::Poll;

use alloc::vec::Vec;
use oasis::log::{info, warn};
use oasis::{Duration, Instant};
use oasis_dns::engine::Zone;
use oasis_dns::tsig::{Key, ResponseVerifier, Signer};
use oasis_dns::wire::{Message, Name, RData, Type, flag};
use oasis_dns::xfr::{
    AxfrCollector, IxfrCollector, IxfrResult, XfrError, diff, ixfr_query, query, serial_of,
};
use oasis_net::prelude::*;

use crate::service::{Secondary, Service, unix_now};

/// Longest a transfer or an SOA check may take.
const EXCHANGE: Duration = Duration::from_secs(10);

/// Monotonic time as the refresh state machine counts it.
fn now() -> Duration {
    Duration::from_nanos(Instant::now().as_nanos())
}

fn id() -> u16 {
    let mut b = [0u8; 2];
    oasis::random(&mut b);
    u16::from_be_bytes(b)
}

/// A secondary to NOTIFY, and the key its NOTIFY is signed with.
#[derive(Clone, Debug)]
pub struct Target {
    /// Where the NOTIFY goes.
    pub addr: SocketAddr,
    /// The TSIG key it is signed with, if any.
    pub key: Option<Key>,
}

/// `msg` signed with `key`, if any: the message, and the verifier of its
/// answer.
fn signed(mut msg: Vec<u8>, key: Option<&Key>) -> (Vec<u8>, Option<ResponseVerifier>) {
    match key {
        Some(k) => {
            let mac = Signer::new(k, None).sign(&mut msg, unix_now());
            (msg, Some(ResponseVerifier::new(k, &mac)))
        }
        None => (msg, None),
    }
}

/// Sends `request` (signed with the zone's TSIG key, if it has one) to
/// `primary` over TCP and hands each message of the answer to `take`
/// (every one checked with the key first) until `take` says the transfer
/// is complete.
async fn exchange<S: Stack>(
    stack: &S,
    primary: SocketAddr,
    s: &Secondary,
    request: Vec<u8>,
    mut take: impl FnMut(&[u8]) -> Result<bool, XfrError>,
) -> oasis::Result<()> {
    let exchange = async {
        let mut conn = stack.connect_tcp(primary).await?;
        let (q, mut verifier) = signed(request, s.key.as_ref());
        let mut framed = vec![0u8; 2 + q.len()];
        framed[..2].copy_from_slice(&(q.len() as u16).to_be_bytes());
        framed[2..].copy_from_slice(&q);
        conn.write_all(&framed).await?;
        let mut buf = vec![0u8; 2 + 65535];
        let mut have = 0usize;
        loop {
            // Read one length-prefixed message.
            while have < 2 || have < 2 + u16::from_be_bytes([buf[0], buf[1]]) as usize {
                let n = conn.read(&mut buf[have..]).await?;
                if n == 0 {
                    return Err(oasis::Error::from(
                        "the primary closed the connection mid-transfer",
                    ));
                }
                have += n;
            }
            let len = 2 + u16::from_be_bytes([buf[0], buf[1]]) as usize;
            if let Some(v) = &mut verifier {
                v.verify(&buf[2..len], unix_now())
                    .map_err(|e| format!("TSIG: {e}; the transfer is discarded"))?;
            }
            let done = take(&buf[2..len]).map_err(|e| format!("{e}"))?;
            buf.copy_within(len..have, 0);
            have -= len;
            if done {
                if let Some(v) = &verifier {
                    v.finish().map_err(|e| {
                        format!("TSIG: {e} (the last message); the transfer is discarded")
                    })?;
                }
                let _ = conn.shutdown();
                return Ok(());
            }
        }
    };
    oasis::timeout(EXCHANGE, exchange)
        .await
        .map_err(|_| oasis::Error::from("transfer timed out"))?
}

/// Transfers the secondary zone `s` from `primary` over TCP (AXFR), the
/// request signed with the zone's TSIG key and every message of the answer
/// checked with it, if it has one.
async fn transfer<S: Stack>(stack: &S, primary: SocketAddr, s: &Secondary) -> oasis::Result<Zone> {
    let qid = id();
    let mut collector = AxfrCollector::new(&s.apex, qid);
    let request = query(&s.apex, Type::AXFR, qid);
    exchange(stack, primary, s, request, |m| collector.push(m)).await?;
    let records = collector.finish().map_err(|e| format!("{e}"))?;
    Ok(Zone::new(&s.apex, records).map_err(|e| format!("{e}"))?)
}

/// Asks `primary` for what changed since the copy held (IXFR, RFC 1995),
/// signed and checked as [`transfer`] is, and applies it to a copy of the
/// zone: the new version and how it came, or an error (a refusal, an
/// inconsistent or incomplete answer) after which the caller falls back to
/// AXFR. The copy served is not touched.
async fn incremental<S: Stack>(
    stack: &S,
    primary: SocketAddr,
    s: &Secondary,
) -> oasis::Result<(Zone, alloc::string::String)> {
    let held = s.zone.borrow().as_ref().map(|z| z.soa().clone());
    let held = held.ok_or("no copy held")?;
    let qid = id();
    let mut collector = IxfrCollector::new(&s.apex, qid, serial_of(&held));
    let request = ixfr_query(&s.apex, &held, qid);
    exchange(stack, primary, s, request, |m| collector.push(m)).await?;
    let zone = s.zone.borrow();
    let zone = zone.as_ref().ok_or("the copy held expired")?;
    match collector.finish(zone).map_err(|e| format!("{e}"))? {
        IxfrResult::Incremental(z, 1) => Ok((z, "by IXFR (1 step)".into())),
        IxfrResult::Incremental(z, n) => Ok((z, format!("by IXFR ({n} steps)"))),
        IxfrResult::Full(z) => Ok((z, "by IXFR (the whole zone)".into())),
        IxfrResult::UpToDate => Err("IXFR: the primary says the copy held is current".into()),
    }
}

/// The new version of the secondary zone `s`: by IXFR when a copy is held,
/// else (or when IXFR fails, logged) by AXFR.
async fn catch_up<S: Stack>(
    stack: &S,
    primary: SocketAddr,
    s: &Secondary,
) -> oasis::Result<(Zone, alloc::string::String)> {
    if s.is_served() {
        match incremental(stack, primary, s).await {
            Ok(got) => return Ok(got),
            Err(e) => warn!(
                "secondary {}: IXFR from {primary} failed ({e}); falling back to AXFR",
                s.apex
            ),
        }
    }
    Ok((transfer(stack, primary, s).await?, "by AXFR".into()))
}

/// Asks `primary` for the zone's SOA serial over UDP, signed with the
/// zone's TSIG key if it has one (an answer that fails the check is
/// discarded).
async fn primary_serial<S: Stack>(
    stack: &S,
    primary: SocketAddr,
    s: &Secondary,
) -> oasis::Result<u32> {
    let udp = stack.bind_udp(0)?;
    let qid = id();
    let (q, mut verifier) = signed(query(&s.apex, Type::SOA, qid), s.key.as_ref());
    udp.send_to(&q, primary).await?;
    let mut buf = [0u8; 1500];
    let wait = async {
        loop {
            let (n, from) = udp.recv_from(&mut buf).await?;
            if from != primary {
                continue;
            }
            let Ok(m) = Message::parse(&buf[..n]) else {
                continue;
            };
            if m.id != qid || m.flags & flag::QR == 0 {
                continue;
            }
            if let Some(v) = &mut verifier {
                v.verify(&buf[..n], unix_now())
                    .map_err(|e| format!("TSIG: {e}; the answer is discarded"))?;
            }
            for r in &m.answers {
                if let RData::Soa(soa) = &r.rdata {
                    return Ok::<u32, oasis::Error>(soa.serial);
                }
            }
            return Err(format!(
                "the primary gave no SOA (rcode {})",
                m.flags & flag::RCODE_MASK
            )
            .into());
        }
    };
    oasis::timeout(Duration::from_secs(3), wait)
        .await
        .map_err(|_| oasis::Error::from("SOA query timed out"))?
}

fn soa_of(zone: &Zone) -> Option<oasis_dns::wire::Soa> {
    match &zone.soa().rdata {
        RData::Soa(s) => Some(s.clone()),
        _ => None,
    }
}

/// Keeps one secondary zone fresh, forever: the zone at `index` of
/// [`Service::secondaries`], transferred from `primary` over `stack`.
/// NOTIFYs `downstream` of each new copy.
pub async fn refresh<S: Stack>(
    stack: S,
    service: Rc<Service>,
    primary: SocketAddr,
    index: usize,
    downstream: Rc<[Target]>,
) {
    let s = service.secondaries()[index].clone();
    let mut state = oasis_dns::xfr::Refresh::new(now());
    loop {
        let check = s.notified.replace(false) || state.due(now());
        if check {
            let transfer_now = match primary_serial(&stack, primary, &s).await {
                Ok(serial) => state.soa_answer(now(), serial),
                Err(e) => {
                    warn!("secondary {}: SOA check with {primary} failed: {e}", s.apex);
                    state.failed(now());
                    false
                }
            };
            if transfer_now {
                match catch_up(&stack, primary, &s).await {
                    Ok((zone, how)) => {
                        let soa = soa_of(&zone);
                        let old = s.zone.borrow_mut().replace(zone);
                        match (service.rebuild(), soa) {
                            (Ok(()), Some(soa)) => {
                                info!(
                                    "secondary {}: serial {} from {primary} {how}",
                                    s.apex, soa.serial
                                );
                                // The step to this copy, for IXFR out.
                                if let (Some(old), Some(new)) = (old, s.zone.borrow().as_ref()) {
                                    s.journal.borrow_mut().push(diff(&old, new));
                                }
                                state.loaded(now(), &soa);
                                notify_changed(&stack, &service, &s.apex, &downstream);
                            }
                            (result, _) => {
                                warn!(
                                    "secondary {}: zone from {primary} refused: {result:?}",
                                    s.apex
                                );
                                *s.zone.borrow_mut() = None;
                                s.journal.borrow_mut().clear();
                                let _ = service.rebuild();
                                state.failed(now());
                            }
                        }
                    }
                    Err(e) => {
                        warn!("secondary {}: transfer from {primary} failed: {e}", s.apex);
                        state.failed(now());
                    }
                }
            }
            if state.expired(now()) && s.zone.borrow_mut().take().is_some() {
                warn!("secondary {}: expired, no longer served", s.apex);
                s.journal.borrow_mut().clear();
                let _ = service.rebuild();
            }
        }
        // Wait for the next check or a NOTIFY.
        let next = state.next_check();
        let deadline = Instant::from_nanos(u64::try_from(next.as_nanos()).unwrap_or(u64::MAX));
        let mut sleep = oasis::rt::time::sleep_until(deadline);
        poll_fn(|cx| {
            if s.notified.get() {
                return Poll::Ready(());
            }
            *s.waiter.borrow_mut() = Some(cx.waker().clone());
            core::pin::Pin::new(&mut sleep).poll(cx)
        })
        .await;
    }
}

/// Sends a NOTIFY for every zone served here to each of `targets`.
pub async fn notify_all<S: Stack>(stack: S, service: Rc<Service>, targets: Rc<[Target]>) {
    let catalog = service.catalog();
    for zone in catalog.zones() {
        notify_zone(&stack, zone, &targets).await;
    }
}

/// NOTIFYs `targets` of every primary zone updated ([`Service::update`]),
/// forever: each update wakes it.
pub async fn notify_updates<S: Stack>(stack: S, service: Rc<Service>, targets: Rc<[Target]>) {
    loop {
        let mut changed = poll_fn(|cx| {
            let c = service.take_changed(cx.waker());
            if c.is_empty() {
                Poll::Pending
            } else {
                Poll::Ready(c)
            }
        })
        .await;
        changed.dedup();
        for apex in changed {
            notify_changed(&stack, &service, &apex, &targets);
        }
    }
}

/// Starts NOTIFYing `targets` of the copy of `apex` now served, if any.
fn notify_changed<S: Stack>(stack: &S, service: &Rc<Service>, apex: &Name, targets: &Rc<[Target]>) {
    if targets.is_empty() {
        return;
    }
    let (stack, service, apex, targets) = (
        stack.clone(),
        service.clone(),
        apex.clone(),
        targets.clone(),
    );
    oasis::spawn(async move {
        let catalog = service.catalog();
        let apex = apex.to_lowercase();
        if let Some(zone) = catalog
            .zones()
            .iter()
            .find(|z| z.apex.to_lowercase() == apex)
        {
            notify_zone(&stack, zone, &targets).await;
        }
    });
}

/// Sends a NOTIFY for `zone` to each of `targets`, a few times until
/// acknowledged (RFC 1996 §3.6); signed with the target's key, if it has
/// one, whose acknowledgement must then verify.
async fn notify_zone<S: Stack>(stack: &S, zone: &Zone, targets: &[Target]) {
    let Ok(udp) = stack.bind_udp(0) else {
        warn!("NOTIFY: no UDP socket");
        return;
    };
    let mut batch = Batch::new(8, 1500);
    for target in targets {
        let to = target.addr;
        let qid = id();
        let plain = oasis_dns::xfr::notify(&zone.apex, qid, Some(zone.soa()));
        let mut acked = false;
        let mut failure = None;
        for _ in 0..5 {
            let (msg, mut verifier) = signed(plain.clone(), target.key.as_ref());
            if udp.send_to(&msg, to).await.is_err() {
                break;
            }
            let got = oasis::timeout(Duration::from_secs(1), udp.recv_batch(&mut batch)).await;
            if let Ok(Ok(_)) = got {
                for d in batch.iter() {
                    if d.peer != to || d.data.get(..2) != Some(&qid.to_be_bytes()[..]) {
                        continue;
                    }
                    match verifier.as_mut().map(|v| v.verify(d.data, unix_now())) {
                        Some(Err(e)) => failure = Some(e),
                        _ => acked = true,
                    }
                }
            }
            if acked {
                break;
            }
        }
        match (acked, failure) {
            (true, _) => info!("NOTIFY {} sent to {to}, acknowledged", zone.apex),
            (false, Some(e)) => warn!(
                "NOTIFY {} to {to}: acknowledgement fails TSIG: {e}",
                zone.apex
            ),
            (false, None) => warn!("NOTIFY {} to {to}: no acknowledgement", zone.apex),
        }
    }
}
