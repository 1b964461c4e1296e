//! Device attachment on hosted: the command line is checked against what the
//! application declares, and a device that cannot be opened is one clear line.

use oasis_hosted::{Attach, attach_devices, split_command_line};
use oasis_rt::{App, AppFuture, DeviceDecl, DeviceKind};

fn never() -> AppFuture {
    Box::pin(async { Ok(()) })
}

static NET_APP: App = App {
    devices: &[DeviceDecl {
        kind: DeviceKind::Net,
        name: "service",
        optional: false,
    }],
    main: never,
};

static BLOCK_APP: App = App {
    devices: &[DeviceDecl {
        kind: DeviceKind::Block,
        name: "storage",
        optional: false,
    }],
    main: never,
};

static OPTIONAL_APP: App = App {
    devices: &[DeviceDecl {
        kind: DeviceKind::Block,
        name: "zones",
        optional: true,
    }],
    main: never,
};

#[test]
fn an_optional_device_may_be_left_unattached() {
    oasis_hosted::check_attachments(&OPTIONAL_APP, &[]).unwrap();
    let zones = Attach {
        kind: DeviceKind::Block,
        name: "zones".into(),
        backing: "/x".into(),
    };
    oasis_hosted::check_attachments(&OPTIONAL_APP, &[zones]).unwrap();
    let other = Attach {
        kind: DeviceKind::Block,
        name: "other".into(),
        backing: "/x".into(),
    };
    assert!(oasis_hosted::check_attachments(&OPTIONAL_APP, &[other]).is_err());
}

#[test]
fn an_unattached_net_device_defaults_to_host_sockets() {
    let all = oasis_hosted::with_default_nets(&NET_APP, &[]);
    assert_eq!(
        all,
        [Attach {
            kind: DeviceKind::Net,
            name: "service".into(),
            backing: "socket".into()
        }]
    );
    let tap = Attach {
        kind: DeviceKind::Net,
        name: "service".into(),
        backing: "tap0".into(),
    };
    assert_eq!(
        oasis_hosted::with_default_nets(&NET_APP, std::slice::from_ref(&tap)),
        [tap]
    );
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn device_options_are_split_from_boot_arguments() {
    let (attach, boot) = split_command_line(&args(&[
        "--net:service=tap0",
        "--block:storage=/tmp/x",
        "--port=53",
        "--",
        "--block:not-a-device=1",
    ]))
    .unwrap();
    assert_eq!(
        attach,
        [
            Attach {
                kind: DeviceKind::Net,
                name: "service".into(),
                backing: "tap0".into()
            },
            Attach {
                kind: DeviceKind::Block,
                name: "storage".into(),
                backing: "/tmp/x".into()
            },
        ]
    );
    assert_eq!(boot, ["--port=53", "--block:not-a-device=1"]);
    let e = split_command_line(&args(&["--net:service"])).unwrap_err();
    assert!(
        e.contains("`--net:service`: expected --net:NAME=PATH"),
        "{e}"
    );
}

#[test]
fn declared_but_missing_and_attached_but_undeclared_are_refused() {
    let e = attach_devices(&BLOCK_APP, &[]).unwrap_err();
    assert!(
        e.contains("block device `storage` is declared by the application but not attached"),
        "{e}"
    );
    let extra = Attach {
        kind: DeviceKind::Block,
        name: "disk".into(),
        backing: "/tmp/x".into(),
    };
    let svc = Attach {
        kind: DeviceKind::Net,
        name: "service".into(),
        backing: "tap0".into(),
    };
    let e = attach_devices(&NET_APP, &[svc, extra]).unwrap_err();
    assert!(
        e.contains("block device `disk` is attached but the application does not declare it"),
        "{e}"
    );
}

#[test]
fn a_tap_that_cannot_be_opened_is_one_line_naming_it() {
    let bad = Attach {
        kind: DeviceKind::Net,
        name: "service".into(),
        backing: "a-name-far-too-long-for-linux".into(),
    };
    let e = attach_devices(&NET_APP, &[bad]).unwrap_err();
    assert!(
        e.starts_with(
            "net device `service`: cannot open TAP interface a-name-far-too-long-for-linux"
        ),
        "{e}"
    );
    assert!(!e.contains('\n'));
}
