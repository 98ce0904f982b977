//! The socket layer on its own: what [`Transports::send`] is given goes out.

use std::time::Duration;

use bytes::Bytes;
use strowger_net::{Config, Transport, Transports};

/// A datagram sent right after binding used to be dropped now and then: tokio's
/// `try_send_to` says WouldBlock until its reactor has seen the new socket writable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_datagram_after_bind_is_sent() {
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dest = peer.local_addr().unwrap();
    let config = Config::listening(&["udp:127.0.0.1:0"]).unwrap();
    let mut buf = [0u8; 64];
    for i in 0..50u32 {
        let mut net = Transports::bind(&config).await.unwrap();
        let bytes = Bytes::from(format!("ping {i}"));
        let t = strowger_core::Transmit {
            dest,
            transport: Transport::Udp,
            conn: None,
            bytes: bytes.clone(),
        };
        net.send(&t).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(2), peer.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("datagram {i} was not sent"))
            .unwrap();
        assert_eq!(&buf[..got.0], &bytes[..]);
        net.close();
    }
}
