use super::*;
use alloc::vec;

fn root() -> Name {
    Name::root()
}
fn n(s: &str) -> Name {
    text::name(s.as_bytes(), &root()).unwrap()
}

const ZONE: &str = r#"
$ORIGIN example.com.
$TTL 1h
@   IN  SOA ns1 hostmaster (
        2024010101 ; serial
        2h 30m 1w 300 )
    IN  NS  ns1
    NS ns2.example.net.
ns1 300 IN A 192.0.2.1
www IN 60 CNAME @
Mail.Example.COM. MX 10 mail
txt TXT "hello world" "a\"b" \097
*.wild AAAA 2001:db8::1
odd TYPE65280 \# 2 abcd
odd CLASS1 TYPE1 \# 4 c0000201
"#;

#[test]
fn parses_a_typical_zone() {
    let rs = parse_str(ZONE, "example.com.zone", &root()).unwrap();
    assert_eq!(rs.len(), 10);
    assert_eq!(rs[9].rdata, RData::A([192, 0, 2, 1]));
    assert_eq!(rs[0].rtype, Type::SOA);
    assert_eq!(rs[0].ttl, 3600);
    let RData::Soa(soa) = &rs[0].rdata else {
        panic!()
    };
    assert_eq!(
        (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum),
        (2024010101, 7200, 1800, 604800, 300)
    );
    assert_eq!(soa.mname, n("ns1.example.com."));
    assert_eq!(rs[1].name, n("example.com."));
    assert_eq!(rs[2].rdata, RData::Ns(n("ns2.example.net.")));
    assert_eq!(rs[3].ttl, 300);
    assert_eq!(rs[4].ttl, 60);
    assert_eq!(rs[4].rdata, RData::Cname(n("example.com.")));
    assert_eq!(rs[5].name.to_string(), "Mail.Example.COM.");
    assert_eq!(
        rs[6].rdata,
        RData::Other(b"\x0bhello world\x03a\"b\x01a".to_vec())
    );
    assert_eq!(rs[7].name, n("*.wild.example.com."));
    assert_eq!(rs[8].rtype, Type(65280));
}

#[test]
fn include_uses_the_resolver_and_restores_origin() {
    let main = "$ORIGIN example.com.\n$TTL 60\n$INCLUDE sub.zone sub\nafter A 192.0.2.9\n";
    let mut asked = vec![];
    let rs = parse(main, "main.zone", &root(), &mut |f: &str| {
        asked.push(f.to_string());
        Ok("inner A 192.0.2.1\n".to_string())
    })
    .unwrap();
    assert_eq!(asked, ["sub.zone"]);
    assert_eq!(rs[0].name, n("inner.sub.example.com."));
    assert_eq!(rs[1].name, n("after.example.com."));
    let e = parse_str(main, "main.zone", &root()).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("main.zone", 3));
}

#[test]
fn self_include_is_bounded() {
    let e = parse("$INCLUDE self\n", "self", &root(), &mut |_| {
        Ok("$INCLUDE self\n".into())
    })
    .unwrap_err();
    assert!(e.message.contains("nested"), "{e}");
}

#[test]
fn errors_name_file_line_and_expectation() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "$TTL 60\na.example. A 1.2.3.256\n",
            2,
            "an IPv4 address, found `1.2.3.256`",
        ),
        ("$TTL 60\n\n a.example. A 1.2.3.4\n", 3, "an owner name"),
        ("a.example. A 1.2.3.4\n", 1, "a TTL"),
        ("$TTL 60\na.example. CH A 1.2.3.4\n", 2, "class IN"),
        ("$TTL 60\na.example. BOGUS x\n", 2, "a record type such as"),
        ("$TTL 60\na.example. MX ( 10\n", 2, "`)` to close"),
        ("$FOO\n", 1, "$ORIGIN, $TTL or $INCLUDE"),
    ];
    for (text, line, want) in cases {
        let e = parse_str(text, "z.zone", &root()).unwrap_err();
        assert_eq!(e.file, "z.zone");
        assert_eq!(e.line, *line, "{e}");
        assert!(e.to_string().contains(want), "{e} lacks {want}");
    }
}

#[test]
fn every_listed_type_parses() {
    let z = r#"$ORIGIN example.com.
$TTL 300
a A 192.0.2.1
a AAAA ::1
a NS ns
a CNAME b
a DNAME c
a SOA ns host 1 2 3 4 5
a MX 1 mx
a TXT x
a SPF "v=spf1 -all"
a SRV 0 5 5060 sip
a PTR p
a NAPTR 100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .
a CAA 0 issuewild ";"
a TLSA 3 1 1 ( 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B566 64C5D3D6 )
a SSHFP 4 2 123456789abcdef67890123456789abcdef67890123456789abcdef123456789
a DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118
a DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTO iW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN 7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5 LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8 efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7 pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLY A4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws 9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=
a RRSIG A 8 3 300 20250101000000 20241201000000 12345 example.com. AwEAAQ==
a NSEC b.example.com. A RRSIG NSEC
a NSEC3 1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG
a NSEC3PARAM 1 0 12 -
a SVCB 1 . alpn=h2 port=8443
a HTTPS 1 . alpn="h3,h2" ipv4hint=192.0.2.1 no-default-alpn
a TYPE999 \# 0
"#;
    let rs = parse_str(z, "all.zone", &root()).unwrap();
    assert_eq!(rs.len(), 24);
    let names: Vec<String> = rs.iter().map(|r| r.rtype.to_string()).collect();
    assert!(names.contains(&"HTTPS".to_string()) && names.contains(&"TYPE999".to_string()));
}
