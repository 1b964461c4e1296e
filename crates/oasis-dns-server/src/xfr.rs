//! Zone transfers on the network: a secondary's refresh task (AXFR from its
//! primary at start, then on NOTIFY or when the SOA refresh timer says so,
//! RFC 1034 §4.3.5 and RFC 1996), and NOTIFY sent to the secondaries of the
//! zones served here: every zone at start, and a secondary zone again each
//! time a transfer brings a new copy, so secondaries of a secondary follow
//! a change without waiting for their refresh timers.

use alloc::format;
use alloc::rc::Rc;
use alloc::vec;
use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::Poll;

use oasis::log::{info, warn};
use oasis::{Duration, Instant};
use oasis_dns::engine::Zone;
use oasis_dns::wire::{Message, Name, RData, Type, flag};
use oasis_dns::xfr::{AxfrCollector, query};
use oasis_net::prelude::*;

use crate::service::{Secondary, Service};

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

/// Transfers the secondary zone `s` from `primary` over TCP (AXFR).
async fn transfer<S: Stack>(stack: &S, primary: SocketAddr, s: &Secondary) -> oasis::Result<Zone> {
    let exchange = async {
        let mut conn = stack.connect_tcp(primary).await?;
        let qid = id();
        let q = query(&s.apex, Type::AXFR, qid);
        let mut framed = vec![0u8; 2 + q.len()];
        framed[..2].copy_from_slice(&(q.len() as u16).to_be_bytes());
        framed[2..].copy_from_slice(&q);
        conn.write_all(&framed).await?;
        let mut collector = AxfrCollector::new(&s.apex, qid);
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
            let done = collector.push(&buf[2..len]).map_err(|e| format!("{e}"))?;
            buf.copy_within(len..have, 0);
            have -= len;
            if done {
                let _ = conn.shutdown();
                let records = collector.finish().map_err(|e| format!("{e}"))?;
                return Ok(Zone::new(&s.apex, records).map_err(|e| format!("{e}"))?);
            }
        }
    };
    oasis::timeout(EXCHANGE, exchange)
        .await
        .map_err(|_| oasis::Error::from("transfer timed out"))?
}

/// Asks `primary` for the zone's SOA serial over UDP.
async fn primary_serial<S: Stack>(
    stack: &S,
    primary: SocketAddr,
    s: &Secondary,
) -> oasis::Result<u32> {
    let udp = stack.bind_udp(0)?;
    let qid = id();
    udp.send_to(&query(&s.apex, Type::SOA, qid), primary)
        .await?;
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
    downstream: Rc<[SocketAddr]>,
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
                match transfer(&stack, primary, &s).await {
                    Ok(zone) => {
                        let soa = soa_of(&zone);
                        *s.zone.borrow_mut() = Some(zone);
                        match (service.rebuild(), soa) {
                            (Ok(()), Some(soa)) => {
                                info!("secondary {}: serial {} from {primary}", s.apex, soa.serial);
                                state.loaded(now(), &soa);
                                notify_changed(&stack, &service, &s.apex, &downstream);
                            }
                            (result, _) => {
                                warn!(
                                    "secondary {}: zone from {primary} refused: {result:?}",
                                    s.apex
                                );
                                *s.zone.borrow_mut() = None;
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
pub async fn notify_all<S: Stack>(stack: S, service: Rc<Service>, targets: Rc<[SocketAddr]>) {
    let catalog = service.catalog();
    for zone in catalog.zones() {
        notify_zone(&stack, zone, &targets).await;
    }
}

/// Starts NOTIFYing `targets` of the copy of `apex` now served, if any.
fn notify_changed<S: Stack>(
    stack: &S,
    service: &Rc<Service>,
    apex: &Name,
    targets: &Rc<[SocketAddr]>,
) {
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
/// acknowledged (RFC 1996 §3.6).
async fn notify_zone<S: Stack>(stack: &S, zone: &Zone, targets: &[SocketAddr]) {
    let Ok(udp) = stack.bind_udp(0) else {
        warn!("NOTIFY: no UDP socket");
        return;
    };
    let mut batch = Batch::new(8, 1500);
    for &to in targets {
        let qid = id();
        let msg = oasis_dns::xfr::notify(&zone.apex, qid, Some(zone.soa()));
        let mut acked = false;
        for _ in 0..5 {
            if udp.send_to(&msg, to).await.is_err() {
                break;
            }
            let got = oasis::timeout(Duration::from_secs(1), udp.recv_batch(&mut batch)).await;
            if let Ok(Ok(_)) = got
                && batch
                    .iter()
                    .any(|d| d.peer == to && d.data.get(..2) == Some(&qid.to_be_bytes()[..]))
            {
                acked = true;
                break;
            }
        }
        if acked {
            info!("NOTIFY {} sent to {to}, acknowledged", zone.apex);
        } else {
            warn!("NOTIFY {} to {to}: no acknowledgement", zone.apex);
        }
    }
}
