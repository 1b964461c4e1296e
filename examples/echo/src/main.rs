//! echo: a UDP and TCP echo server (RFC 862) on the net device `service`.
//!
//! Every UDP datagram goes back to its sender, and every TCP connection
//! gets back what it sends until it closes its side. The same file runs
//! hosted over a TAP device (`--net:service=tap0`) or the host's sockets
//! (`--net:service=socket`), and as a kvm unikernel.
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

/// Datagrams moved per batch.
const BATCH: usize = 64;
/// Largest datagram echoed whole.
const DATAGRAM_MAX: usize = 65536;

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
    let listener = stack.listen_tcp(port, 32)?;
    info!("echo: serving UDP and TCP on port {port}");
    let udp_task = oasis::spawn(udp_echo(udp));
    let tcp_task = async {
        loop {
            let (conn, _) = listener.accept().await?;
            oasis::spawn(tcp_echo(conn));
        }
    };
    match oasis::select(udp_task, tcp_task).await {
        oasis::Either::Left(r) | oasis::Either::Right(r) => r,
    }
}
