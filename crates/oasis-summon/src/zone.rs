//! The services' zone, answered by oasis-dns: an SOA and NS at the apex and
//! one A record per service, compiled into a [`Catalog`]. The summoner asks
//! [`Zone::service_asked`] which service (if any) a query needs running and
//! otherwise lets the catalog answer at once (NXDOMAIN for names that are
//! not services, NODATA for other types, REFUSED outside the zone).

use std::collections::HashMap;

use oasis_dns::engine::{self, Catalog, Transport};
use oasis_dns::wire::{Class, Edns, Message, Name, Opcode, Rcode, Type, flag};

use crate::config::Config;

/// The zone and where each service's name leads.
pub struct Zone {
    catalog: Catalog,
    /// Lowercased owner name → index into the configuration's services.
    services: HashMap<Name, usize>,
}

/// The zone's text, as a master file (RFC 1035 §5).
fn master_file(c: &Config) -> String {
    let mut text = format!(
        "$ORIGIN {zone}\n$TTL {ttl}\n@ SOA summon hostmaster 1 3600 600 86400 {ttl}\n@ NS summon\n",
        zone = c.zone,
        ttl = c.ttl
    );
    for s in &c.services {
        text.push_str(&format!("{} A {}\n", s.name, s.address));
    }
    text
}

impl Zone {
    /// Compiles the zone of `c`'s services.
    pub fn new(c: &Config) -> Result<Zone, String> {
        let apex = oasis_dns::zone::text::name(c.zone.as_bytes(), &Name::root())
            .map_err(|e| format!("zone {}: {e}", c.zone))?;
        let records = oasis_dns::zone::parse_str(&master_file(c), "summon", &apex)
            .map_err(|e| format!("the services' zone: {e}"))?;
        let zone = engine::Zone::new(&apex, records).map_err(|e| format!("{e}"))?;
        let catalog = Catalog::new(vec![zone]).map_err(|e| format!("{e}"))?;
        let mut services = HashMap::new();
        for (i, s) in c.services.iter().enumerate() {
            let name = apex
                .prepend(s.name.as_bytes())
                .map_err(|e| format!("service {}: {e}", s.name))?;
            services.insert(name.to_lowercase(), i);
        }
        Ok(Zone { catalog, services })
    }

    /// The service a query asks the address of (`A` or `ANY`, class IN, a
    /// standard query): it must run before the answer is given.
    pub fn service_asked(&self, query: &[u8]) -> Option<usize> {
        let m = Message::parse(query).ok()?;
        let opcode = Opcode(((m.flags & flag::OPCODE_MASK) >> 11) as u8);
        if m.flags & flag::QR != 0 || opcode != Opcode::QUERY {
            return None;
        }
        let [q] = &m.questions[..] else { return None };
        if q.qclass != Class::IN || !(q.qtype == Type::A || q.qtype == Type::ANY) {
            return None;
        }
        self.services.get(&q.name.to_lowercase()).copied()
    }

    /// The catalog's answer to `query`, if it deserves one.
    pub fn answer(&self, query: &[u8], out: &mut [u8]) -> Option<usize> {
        self.catalog.answer(query, Transport::Udp, out)
    }
}

/// SERVFAIL for `query` (its ID, opcode, RD and question echoed; an OPT
/// record when it had one), or nothing when it does not parse.
pub fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let q = Message::parse(query).ok()?;
    let response = Message {
        id: q.id,
        flags: flag::QR | q.flags & (flag::OPCODE_MASK | flag::RD) | Rcode::SERVFAIL.0,
        questions: q.questions,
        answers: Vec::new(),
        authorities: Vec::new(),
        additionals: Vec::new(),
        edns: q.edns.map(|_| Edns {
            udp_size: 1232,
            ext_rcode: 0,
            version: 0,
            dnssec_ok: false,
            z: 0,
            options: Vec::new(),
        }),
    };
    let mut out = Vec::new();
    response.emit(&mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oasis_dns::wire::RData;

    fn config() -> Config {
        Config::parse(
            "zone svc.test.\nttl 0\nservice www 10.0.0.11 /i\nservice mail 10.0.0.12 /i\n",
        )
        .unwrap()
    }

    fn query(name: &str, t: Type) -> Vec<u8> {
        let name = oasis_dns::zone::text::name(name.as_bytes(), &Name::root()).unwrap();
        oasis_dns::xfr::query(&name, t, 0x1234)
    }

    #[test]
    fn a_service_is_asked_by_its_a_record_and_answered_from_the_zone() {
        let zone = Zone::new(&config()).unwrap();
        assert_eq!(
            zone.service_asked(&query("WWW.svc.test.", Type::A)),
            Some(0)
        );
        assert_eq!(
            zone.service_asked(&query("mail.svc.test.", Type::ANY)),
            Some(1)
        );
        assert_eq!(
            zone.service_asked(&query("mail.svc.test.", Type::AAAA)),
            None
        );
        assert_eq!(zone.service_asked(&query("ftp.svc.test.", Type::A)), None);
        let mut out = [0u8; 512];
        let n = zone
            .answer(&query("www.svc.test.", Type::A), &mut out)
            .unwrap();
        let m = Message::parse(&out[..n]).unwrap();
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].rdata, RData::A([10, 0, 0, 11]));
        assert_eq!(m.answers[0].ttl, 0);
        let n = zone
            .answer(&query("ftp.svc.test.", Type::A), &mut out)
            .unwrap();
        let m = Message::parse(&out[..n]).unwrap();
        assert_eq!(m.flags & flag::RCODE_MASK, Rcode::NXDOMAIN.0);
    }

    #[test]
    fn servfail_echoes_the_question() {
        let q = query("www.svc.test.", Type::A);
        let r = Message::parse(&servfail(&q).unwrap()).unwrap();
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.flags & flag::RCODE_MASK, Rcode::SERVFAIL.0);
        assert!(r.flags & flag::QR != 0);
        assert_eq!(r.questions, Message::parse(&q).unwrap().questions);
        assert!(servfail(b"\x12").is_none());
    }
}
