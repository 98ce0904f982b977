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

/// Receive threads of one UDP socket: one reads while the load is light; a backlog
/// brings the next one in; every datagram is dispatched once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_threads_share_a_backlog_and_every_datagram_is_dispatched_once() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let s = seen.clone();
    let dispatch: strowger_net::UdpDispatch = Arc::new(move |_, msg| {
        let thread = std::thread::current().name().unwrap_or("").to_string();
        let call_id = msg.call_id().unwrap_or("").to_string();
        // Slow work, so that a burst queues up behind it.
        std::thread::sleep(Duration::from_millis(2));
        s.lock().unwrap().push((thread, call_id));
    });
    let config = Config::listening(&["udp:127.0.0.1:0"]).unwrap();
    let net = Transports::bind_dispatching_threads(&config, dispatch, 2)
        .await
        .unwrap();
    let to = net.local_addrs()[0].addr;
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let options = |i: u32| {
        format!(
            "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{i}\r\n\
             Max-Forwards: 70\r\nTo: <sip:a@127.0.0.1>\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\n\
             Call-ID: c{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().len() < n && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(seen.lock().unwrap().len(), n, "datagrams dispatched");
    };
    // Light load: one at a time, each handled before the next is sent.
    for i in 0..20 {
        peer.send_to(options(i).as_bytes(), to).unwrap();
        wait_for(i as usize + 1);
    }
    let light: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(t, _)| t.clone())
        .collect();
    assert!(
        light.iter().all(|t| t.ends_with("-0")),
        "one thread reads a lightly loaded socket: {light:?}"
    );
    // A burst: the first thread falls behind and the second one joins in.
    for i in 20..220 {
        peer.send_to(options(i).as_bytes(), to).unwrap();
    }
    wait_for(220);
    let all = seen.lock().unwrap().clone();
    let mut per_thread: HashMap<&str, usize> = HashMap::new();
    for (t, _) in &all {
        *per_thread.entry(t.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_thread.len(),
        2,
        "both threads read the burst: {per_thread:?}"
    );
    let mut ids: Vec<&str> = all.iter().map(|(_, c)| c.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 220, "each datagram once");
}
