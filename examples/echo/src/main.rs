//! echo: a UDP and TCP echo server (RFC 862) on the net device `service`.
//!
//! Every UDP datagram goes back to its sender, and every TCP connection
//! gets back what it sends until it closes its side. The same file runs
//! hosted over a TAP device (`--net:service=tap0`) or the host's sockets
//! (`--net:service=socket`, or no `--net:` at all), and as a kvm unikernel.
#![no_std]
#![no_main]

extern crate alloc;

use oasis::log::{info, warn};
use oasis_net::prelude::*;
use oasis_net::{AnyTcpStream, AnyUdpSocket};

oasis::boot_arg! {
    /// The echo port.
    static PORT: u16 = Arg::new("port", "UDP and TCP port to echo on").default("7");
}

oasis::boot_arg! {
    /// How long to serve before exiting (for benchmarks); 0 is forever.
    static SERVE_SECONDS: u64 = Arg::new("serve-seconds", "stop serving and exit after SECONDS (0: serve forever)").default("0").value_name("SECONDS");
}

/// Datagrams moved per batch.
const BATCH: usize = 32;
/// Largest datagram echoed whole (longer ones come back truncated).
const DATAGRAM_MAX: usize = 9216;

async fn udp_echo(socket: AnyUdpSocket) -> oasis::Result {
    let mut batch = Batch::new(BATCH, DATAGRAM_MAX);
    loop {
        socket.recv_batch(&mut batch).await?;
        // Each datagram goes back to the peer it came from, unchanged.
        socket.send_batch(&batch).await?;
    }
}

async fn tcp_echo(mut conn: AnyTcpStream) {
    let peer = conn.peer_addr();
    let mut buf = alloc::vec![0u8; 16 * 1024];
    let result = async {
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                return conn.shutdown();
            }
            conn.write_all(&buf[..n]).await?;
        }
    }
    .await;
    if let Err(e) = result {
        warn!("echo: TCP connection with {peer}: {e}");
    }
}

#[oasis::main(net = "service")]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let stack = oasis_net::stack(&mut env, "service")?;
    let port = PORT.value().unwrap_or(7);
    let udp = stack.bind_udp(port)?;
    let listener = stack.listen_tcp(port, 16)?;
    info!("echo: serving UDP and TCP on port {port}");
    let udp_task = oasis::spawn(udp_echo(udp));
    let tcp_task = async {
        loop {
            let (conn, _) = listener.accept().await?;
            oasis::spawn(tcp_echo(conn));
        }
    };
    let serving = async {
        match oasis::select(udp_task, tcp_task).await {
            oasis::Either::Left(r) | oasis::Either::Right(r) => r,
        }
    };
    match SERVE_SECONDS.value().unwrap_or(0) {
        0 => serving.await,
        secs => match oasis::timeout(oasis::Duration::from_secs(secs), serving).await {
            Ok(r) => r,
            Err(_) => {
                info!("echo: served {secs} s, exiting");
                Ok(())
            }
        },
    }
}
