//! The server's counters in Prometheus's text format (version 0.0.4), for
//! a scrape of `GET /metrics` ([`crate::Server`] serves it on
//! `Config::metrics_port`).
//!
//! Counters start at zero when the server starts; the catalog's own
//! counters (queries, responses by rcode, queries by type) start again when
//! the catalog is replaced — a secondary's new copy, an UPDATE — which a
//! Prometheus `rate()` takes as a counter reset. Each zone's SOA serial is
//! read from its compiled answer ([`Catalog::zone_serial`]), so a scrape
//! parses no zone and counts no query.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::net::IpAddr;
use core::sync::atomic::{AtomicU64, Ordering};

use oasis::log::warn;
use oasis_http::{Response, Router, Server};
use oasis_net::api::TcpListener;

#[cfg(doc)]
use oasis_dns::engine::Catalog;
use oasis_dns::engine::QTYPES;

use crate::rrl::Rrl;
use crate::service::Service;

/// The names of the 4-bit rcodes (RFC 1035, RFC 2136).
const RCODES: [&str; 16] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
];

/// Writes one metric family: HELP, TYPE, then `(labels, value)` samples.
fn family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, u64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, v) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {v}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {v}");
        }
    }
}

fn one(v: u64) -> [(String, u64); 1] {
    [(String::new(), v)]
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// The exposition of every counter of `service` (and `rrl`'s, if on).
pub fn render(service: &Service, rrl: Option<&Rrl>) -> String {
    let catalog = service.catalog();
    let s = catalog.stats();
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::new();
    family(
        &mut out,
        "oasis_dns_queries_total",
        "counter",
        "DNS messages received.",
        one(n(&s.queries)),
    );
    family(
        &mut out,
        "oasis_dns_queries_by_type_total",
        "counter",
        "Well-formed queries by question type.",
        QTYPES
            .iter()
            .zip(&s.qtypes)
            .map(|((_, name), c)| (alloc::format!("type=\"{name}\""), n(c))),
    );
    family(
        &mut out,
        "oasis_dns_responses_total",
        "counter",
        "Responses by rcode.",
        RCODES
            .iter()
            .zip(&s.rcodes)
            .filter(|(_, c)| n(c) > 0)
            .map(|(name, c)| (alloc::format!("rcode=\"{name}\""), n(c))),
    );
    for (name, help, v) in [
        (
            "oasis_dns_malformed_total",
            "Malformed queries (FORMERR or dropped).",
            n(&s.malformed),
        ),
        (
            "oasis_dns_refused_total",
            "Queries refused (no zone, class not IN).",
            n(&s.refused),
        ),
        (
            "oasis_dns_truncated_total",
            "Responses sent with TC.",
            n(&s.truncated),
        ),
        (
            "oasis_dns_synthesised_total",
            "Answers worked out per query.",
            n(&s.synthesised),
        ),
        (
            "oasis_dns_dnssec_ok_total",
            "Queries with the DNSSEC OK bit.",
            n(&s.dnssec_ok),
        ),
    ] {
        family(&mut out, name, "counter", help, one(v));
    }
    if let Some(r) = rrl {
        let c = r.counts();
        family(
            &mut out,
            "oasis_dns_rrl_total",
            "counter",
            "Answers held back by response-rate limiting, and buckets evicted early.",
            [
                ("action=\"dropped\"".into(), c.dropped),
                ("action=\"slipped\"".into(), c.slipped),
                ("action=\"evicted\"".into(), c.evicted),
            ],
        );
    }
    let c = service.cookie_counts();
    family(
        &mut out,
        "oasis_dns_cookies_total",
        "counter",
        "Queries by what their DNS cookie was.",
        [
            ("result=\"valid\"".into(), c.valid),
            ("result=\"fresh\"".into(), c.fresh),
            ("result=\"bad\"".into(), c.bad),
            ("result=\"malformed\"".into(), c.malformed),
            ("result=\"badcookie\"".into(), c.badcookie),
        ],
    );
    if service.takes_updates() {
        let u = service.update_counts();
        family(
            &mut out,
            "oasis_dns_updates_total",
            "counter",
            "Dynamic UPDATE requests by result: applied (the zone changed), unchanged, \
             failed (a prerequisite, or a name outside the zone), refused (no permission, \
             or not a zone loaded here), malformed, error (not made durable).",
            [
                ("result=\"applied\"".into(), u.applied),
                ("result=\"unchanged\"".into(), u.unchanged),
                ("result=\"failed\"".into(), u.failed),
                ("result=\"refused\"".into(), u.refused),
                ("result=\"malformed\"".into(), u.malformed),
                ("result=\"error\"".into(), u.errors),
            ],
        );
    }
    family(
        &mut out,
        "oasis_dns_zone_serial",
        "gauge",
        "The SOA serial of each zone served.",
        catalog.apexes().iter().filter_map(|apex| {
            let serial = catalog.zone_serial(apex)?;
            Some((
                alloc::format!("zone=\"{}\"", label(&alloc::format!("{apex}"))),
                u64::from(serial),
            ))
        }),
    );
    out
}

/// The exposition's content type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `GET /metrics` on `listener` until it fails: [`render`] of
/// `service` (and `rrl`), to the addresses of `allow` (any when empty;
/// others get 403).
pub async fn serve<L: TcpListener>(
    listener: L,
    service: Rc<Service>,
    rrl: Option<Rc<Rrl>>,
    allow: Vec<IpAddr>,
) {
    let allow = Rc::new(allow);
    let router = Router::new().get("/metrics", move |request| {
        let permitted = allow.is_empty()
            || request.peer().is_some_and(|p| {
                let ip = match p.ip() {
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
                    v4 => v4,
                };
                allow.contains(&ip)
            });
        let response = if permitted {
            Response::bytes(200, CONTENT_TYPE, render(&service, rrl.as_deref()))
        } else {
            Response::text(403, "metrics are not served to this address\n")
        };
        async move { response }
    });
    if let Err(e) = Rc::new(Server::new(router)).serve(listener).await {
        warn!("metrics: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use oasis_dns::engine::{Catalog, Transport};
    use oasis_dns::zone::file::load;

    #[test]
    fn counters_and_serials_in_the_text_format() {
        let text = "$TTL 300\n@ SOA ns1 host 2026120701 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";
        let zone = load("example.org.zone", text).unwrap();
        let service = Service::new(Catalog::new(vec![zone]).unwrap(), vec![], vec![]);
        let catalog = service.catalog();
        let mut out = [0u8; 512];
        let mut q = vec![1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03ns1\x07example\x03org\x00\x00\x01\x00\x01");
        catalog.answer(&q, Transport::Udp, &mut out).unwrap();
        let text = render(&service, None);
        for line in [
            "# TYPE oasis_dns_queries_total counter",
            "oasis_dns_queries_total 1",
            "oasis_dns_queries_by_type_total{type=\"A\"} 1",
            "oasis_dns_responses_total{rcode=\"NOERROR\"} 1",
            "oasis_dns_zone_serial{zone=\"example.org.\"} 2026120701",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
        // Reading the serials counts no query.
        assert!(render(&service, None).contains("oasis_dns_queries_total 1\n"));
        assert!(
            !text.contains("oasis_dns_updates_total"),
            "no UPDATE, no counters"
        );
    }

    #[test]
    fn update_results_and_the_new_serial() {
        use crate::update::Policy;
        use oasis_dns::update::{Change, request};
        use oasis_dns::wire::{Class, Name, RData, Record, Type};
        let text = "$TTL 300\n@ SOA ns1 host 7 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";
        let zone = load("example.org.zone", text).unwrap();
        let peer: IpAddr = "192.0.2.9".parse().unwrap();
        let policy = Policy {
            keys: vec![],
            addrs: vec![(None, peer)],
        };
        let service = Service::new(Catalog::new(vec![zone.clone()]).unwrap(), vec![], vec![])
            .with_updates(policy, None, vec![]);
        let add = Change::Add(Record {
            name: Name::from_wire(b"\x03www\x07example\x03org\x00").unwrap(),
            rtype: Type::A,
            class: Class::IN,
            ttl: 60,
            rdata: RData::A([192, 0, 2, 80]),
        });
        let msg = request(&zone.apex, 1, &[], &[add.to_record()]);
        let mut out = [0u8; 512];
        for from in [peer, "192.0.2.10".parse().unwrap()] {
            service.update(&msg, from, None, &mut out).unwrap();
        }
        let text = render(&service, None);
        for line in [
            "oasis_dns_updates_total{result=\"applied\"} 1",
            "oasis_dns_updates_total{result=\"refused\"} 1",
            "oasis_dns_updates_total{result=\"failed\"} 0",
            "oasis_dns_zone_serial{zone=\"example.org.\"} 8",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
