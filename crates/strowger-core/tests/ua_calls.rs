//! User agents calling each other over an in-memory network with a virtual clock:
//! INVITE (RFC 3261 section 13), CANCEL (9), re-INVITE and glare (14), BYE (15),
//! forking (13.2.2.4), 2xx retransmission (13.3.1.4), OPTIONS (11), MESSAGE (RFC 3428).

mod ua_common;

use std::time::Duration;

use strowger_core::transport::Transport;
use strowger_core::ua::{Body, CallHandle, Config, EndReason, Event, UserAgent};
use strowger_message::{HeaderName, Message, Method};
use ua_common::*;

const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=bob 2 2 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n";

fn two() -> Net {
    let mut net = Net::new();
    net.add("alice", ALICE);
    net.add("bob", BOB);
    net
}

fn incoming(events: &[Event]) -> CallHandle {
    events
        .iter()
        .find_map(|e| match e {
            Event::IncomingCall { call, .. } => Some(*call),
            _ => None,
        })
        .expect("an incoming call")
}

fn ended(events: &[Event]) -> Vec<EndReason> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CallEnded { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

/// Alice calls Bob, Bob rings and answers; returns both handles with the call up.
fn established(net: &mut Net) -> (CallHandle, CallHandle) {
    let now = net.now;
    let a = net
        .ua(ALICE)
        .invite(now, &format!("sip:bob@{BOB}"), Some(Body::sdp(OFFER)))
        .unwrap();
    net.run();
    let b = incoming(&net.events(BOB));
    let now = net.now;
    net.ua(BOB).answer(now, b, 180, None).unwrap();
    net.ua(BOB)
        .answer(now, b, 200, Some(Body::sdp(ANSWER)))
        .unwrap();
    net.run();
    (a, b)
}

#[test]
fn basic_call_setup_and_teardown_rfc3261_13_and_15() {
    let mut net = two();
    let (a, b) = established(&mut net);
    let alice = net.events(ALICE);
    assert!(matches!(&alice[0], Event::CallRinging { code: 180, call, .. } if *call == a));
    assert!(
        matches!(&alice[1], Event::CallAnswered { call, body: Some(body) } if *call == a && body.bytes == ANSWER.as_bytes())
    );
    let bob = net.events(BOB);
    assert_eq!(
        bob,
        vec![Event::CallConfirmed {
            call: b,
            body: None
        }]
    );
    assert_eq!(
        net.trace(),
        [
            "192.0.2.1->192.0.2.2 INVITE",
            "192.0.2.2->192.0.2.1 180 INVITE",
            "192.0.2.2->192.0.2.1 200 INVITE",
            "192.0.2.1->192.0.2.2 ACK",
        ]
    );
    // The ACK is within the dialog (13.2.2.4): CSeq number of the INVITE, the To tag
    // of the 2xx, the Request-URI the remote target (Bob's Contact), no body.
    let invite = net.sent(ALICE, BOB, "INVITE")[0].msg.clone();
    let ok = net.sent(BOB, ALICE, "200 INVITE")[0].msg.clone();
    let ack = net.sent(ALICE, BOB, "ACK")[0].msg.clone();
    assert_eq!(ack.cseq().unwrap().seq, invite.cseq().unwrap().seq);
    assert_eq!(ack.to_tag(), ok.to_tag());
    assert_eq!(ack.request_uri_str(), Some("sip:bob@192.0.2.2:5060"));
    assert_ne!(ack.top_via_branch(), invite.top_via_branch());
    assert!(ack.body().is_empty());
    let dialog = net.ua(ALICE).dialog(a).unwrap().clone();
    assert_eq!(dialog.remote_target, "sip:bob@192.0.2.2:5060");
    assert_eq!(dialog.id.remote_tag, ok.to_tag().unwrap());

    // Bob hangs up.
    let now = net.now;
    net.ua(BOB).bye(now, b).unwrap();
    net.run();
    assert_eq!(ended(&net.events(BOB)), [EndReason::LocalBye]);
    assert_eq!(ended(&net.events(ALICE)), [EndReason::RemoteBye]);
    let bye = net.sent(BOB, ALICE, "BYE")[0].msg.clone();
    assert_eq!(bye.request_uri_str(), Some("sip:alice@192.0.2.1:5060"));
    assert_eq!(bye.from_tag(), ok.to_tag());
    assert_eq!(bye.to_tag(), invite.from_tag());
    assert_eq!(net.sent(ALICE, BOB, "200 BYE").len(), 1);
    // Nothing is left to do once the transactions have run out.
    net.advance(secs(64.0));
    assert_eq!(net.ua(ALICE).poll_timeout(), None);
    assert_eq!(net.ua(BOB).poll_timeout(), None);
}

#[test]
fn cancel_before_answer_gets_487_and_the_transaction_acks_it_rfc3261_9() {
    let mut net = two();
    let now = net.now;
    let a = net
        .ua(ALICE)
        .invite(now, &format!("sip:bob@{BOB}"), Some(Body::sdp(OFFER)))
        .unwrap();
    net.run();
    let b = incoming(&net.events(BOB));
    net.ua(BOB).answer(now, b, 180, None).unwrap();
    net.run();
    net.ua(ALICE).cancel(now, a).unwrap();
    net.run();
    let invite = net.sent(ALICE, BOB, "INVITE")[0].msg.clone();
    let cancel = net.sent(ALICE, BOB, "CANCEL")[0].msg.clone();
    // 9.1: the CANCEL copies the INVITE.
    assert_eq!(cancel.request_uri_str(), invite.request_uri_str());
    assert_eq!(cancel.top_via_branch(), invite.top_via_branch());
    assert_eq!(cancel.call_id(), invite.call_id());
    assert_eq!(cancel.from_tag(), invite.from_tag());
    assert_eq!(cancel.cseq().unwrap().seq, invite.cseq().unwrap().seq);
    assert_eq!(cancel.cseq().unwrap().method, Method::Cancel);
    // 9.2: 200 for the CANCEL, 487 for the INVITE, ACKed by the INVITE client
    // transaction (17.1.1.3: same branch as the INVITE).
    assert_eq!(net.sent(BOB, ALICE, "200 CANCEL").len(), 1);
    assert_eq!(net.sent(BOB, ALICE, "487 INVITE").len(), 1);
    let ack = &net.sent(ALICE, BOB, "ACK")[0].msg;
    assert_eq!(ack.top_via_branch(), invite.top_via_branch());
    assert_eq!(ended(&net.events(ALICE)), [EndReason::Cancelled]);
    assert_eq!(ended(&net.events(BOB)), [EndReason::Cancelled]);
    assert!(net.ua(BOB).answer(now, b, 200, None).is_err());
}

#[test]
fn cancel_waits_for_a_provisional_response_rfc3261_9_1() {
    let mut net = two();
    let now = net.now;
    let a = net
        .ua(ALICE)
        .invite(now, &format!("sip:bob@{BOB}"), None)
        .unwrap();
    net.ua(ALICE).cancel(now, a).unwrap();
    net.run();
    assert!(net.sent(ALICE, BOB, "CANCEL").is_empty());
    // Bob's INVITE server transaction sends 100 Trying after 200 ms (17.2.1).
    net.advance(secs(1.0));
    let trying = net.sent(BOB, ALICE, "100 INVITE")[0].at;
    let cancel = net.sent(ALICE, BOB, "CANCEL")[0].at;
    assert_eq!(trying, secs(0.2));
    assert_eq!(cancel, trying);
    assert_eq!(net.sent(BOB, ALICE, "487 INVITE").len(), 1);
    assert_eq!(ended(&net.events(ALICE)), [EndReason::Cancelled]);
}

#[test]
fn forked_invite_two_early_dialogs_both_2xx_acked_second_byed_rfc3261_13_2_2_4() {
    let mut net = Net::new();
    net.add("alice", ALICE);
    net.add("bob", BOB);
    net.add("bob", CAROL);
    net.add_proxy(PROXY, &[BOB, CAROL]);
    let now = net.now;
    let a = net
        .ua(ALICE)
        .invite(now, &format!("sip:bob@{PROXY}"), Some(Body::sdp(OFFER)))
        .unwrap();
    net.run();
    let b1 = incoming(&net.events(BOB));
    let b2 = incoming(&net.events(CAROL));
    net.ua(BOB).answer(now, b1, 180, None).unwrap();
    net.ua(CAROL).answer(now, b2, 183, None).unwrap();
    net.run();
    let rings: Vec<u16> = net
        .events(ALICE)
        .iter()
        .filter_map(|e| match e {
            Event::CallRinging { code, .. } => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(rings, [180, 183]);
    let early_tags: Vec<String> = net
        .log
        .iter()
        .filter(|s| s.to == addr(ALICE) && matches!(s.status(), Some(180 | 183)))
        .map(|s| s.msg.to_tag().unwrap().to_string())
        .collect();
    assert_eq!(early_tags.len(), 2);
    assert_ne!(early_tags[0], early_tags[1]);

    // Both answer; Bob first.
    net.ua(BOB)
        .answer(now, b1, 200, Some(Body::sdp(ANSWER)))
        .unwrap();
    net.run();
    net.ua(CAROL)
        .answer(now, b2, 200, Some(Body::sdp(ANSWER)))
        .unwrap();
    net.run();
    // Each 2xx is ACKed straight to the fork's Contact, and the second dialog ends
    // with a BYE.
    assert_eq!(net.sent(ALICE, BOB, "ACK").len(), 1);
    assert_eq!(net.sent(ALICE, CAROL, "ACK").len(), 1);
    assert!(net.sent(ALICE, BOB, "BYE").is_empty());
    let bye = &net.sent(ALICE, CAROL, "BYE")[0].msg;
    assert_eq!(bye.to_tag(), Some(early_tags[1].as_str()));
    let alice = net.events(ALICE);
    assert_eq!(
        alice
            .iter()
            .filter(|e| matches!(e, Event::CallAnswered { .. }))
            .count(),
        1
    );
    assert!(ended(&alice).is_empty());
    assert_eq!(
        net.ua(ALICE).dialog(a).unwrap().id.remote_tag,
        early_tags[0]
    );
    assert_eq!(
        net.events(BOB),
        [Event::CallConfirmed {
            call: b1,
            body: None
        }]
    );
    assert_eq!(
        net.events(CAROL),
        [
            Event::CallConfirmed {
                call: b2,
                body: None
            },
            Event::CallEnded {
                call: b2,
                reason: EndReason::RemoteBye
            }
        ]
    );
}

#[test]
fn uac_acks_every_retransmitted_2xx_rfc3261_13_2_2_4() {
    let mut net = two();
    // The first ACK is lost: Bob retransmits his 2xx and Alice ACKs again.
    net.lose(|s| s.label() == "ACK" && s.at == Duration::ZERO);
    let (_a, b) = established(&mut net);
    net.advance(secs(2.0));
    let acks = net.sent(ALICE, BOB, "ACK");
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[1].at, secs(0.5));
    // The same ACK, byte for byte.
    assert_eq!(acks[0].msg, acks[1].msg);
    assert_eq!(net.sent(BOB, ALICE, "200 INVITE").len(), 2);
    assert!(net.events(BOB).contains(&Event::CallConfirmed {
        call: b,
        body: None
    }));
}

#[test]
fn uas_retransmits_2xx_at_t1_doubling_to_t2_until_the_ack_rfc3261_13_3_1_4() {
    let mut net = two();
    // Alice hears nothing of Bob's 2xx for the first 5 s.
    net.lose(|s| s.label() == "200 INVITE" && s.at < secs(5.0));
    let (_a, b) = established(&mut net);
    net.advance(secs(20.0));
    let times: Vec<Duration> = net
        .sent(BOB, ALICE, "200 INVITE")
        .iter()
        .map(|s| s.at)
        .collect();
    assert_eq!(times, [0.0, 0.5, 1.5, 3.5, 7.5].map(secs));
    assert_eq!(net.sent(ALICE, BOB, "ACK").len(), 1);
    assert_eq!(
        net.events(BOB),
        [Event::CallConfirmed {
            call: b,
            body: None
        }]
    );
}

#[test]
fn uas_sends_bye_when_the_ack_never_comes_rfc3261_13_3_1_4() {
    let mut net = two();
    net.lose(|s| s.label() == "ACK");
    let (_a, b) = established(&mut net);
    net.advance(secs(40.0));
    let times: Vec<Duration> = net
        .sent(BOB, ALICE, "200 INVITE")
        .iter()
        .map(|s| s.at)
        .collect();
    // T1 doubling, capped at T2 = 4 s, for 64*T1 = 32 s.
    assert_eq!(
        times,
        [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5].map(secs)
    );
    let bye = net.sent(BOB, ALICE, "BYE");
    assert_eq!(bye.len(), 1);
    assert_eq!(bye[0].at, secs(32.0));
    assert_eq!(
        net.events(BOB),
        [Event::CallEnded {
            call: b,
            reason: EndReason::NoAck
        }]
    );
    assert!(ended(&net.events(ALICE)) == [EndReason::RemoteBye]);
}

#[test]
fn reinvite_glare_gets_491_and_retries_after_the_backoff_rfc3261_14_1() {
    let mut net = Net::new();
    // Random numbers fixed: Alice (owns the Call-ID) waits 2.1 s + 10 ms * (r % 191),
    // Bob 10 ms * (r % 201).
    let alice =
        UserAgent::new(Config::new("sip:alice@example.com", addr(ALICE))).with_random(|| 50);
    let bob = UserAgent::new(Config::new("sip:bob@example.com", addr(BOB))).with_random(|| 30);
    net.add_ua(alice, ALICE);
    net.add_ua(bob, BOB);
    let (a, b) = established(&mut net);
    net.events(ALICE);
    net.events(BOB);
    let t0 = net.elapsed();
    let now = net.now;
    // Both re-INVITE at once: each sees the other's while its own is pending.
    net.ua(ALICE)
        .reinvite(now, a, Some(Body::sdp(OFFER)))
        .unwrap();
    net.ua(BOB)
        .reinvite(now, b, Some(Body::sdp(ANSWER)))
        .unwrap();
    net.run();
    assert_eq!(net.sent(ALICE, BOB, "491 INVITE").len(), 1);
    assert_eq!(net.sent(BOB, ALICE, "491 INVITE").len(), 1);
    assert_eq!(
        net.ua(ALICE).reinvite(now, a, None),
        Err(strowger_core::ua::Error::RequestPending)
    );

    // Bob retries first, after 0.3 s; Alice answers it.
    net.advance(secs(1.0));
    let bob_invites = net.sent(BOB, ALICE, "INVITE");
    assert_eq!(bob_invites.len(), 2);
    assert_eq!(bob_invites[1].at - t0, secs(0.3));
    assert!(bob_invites[1].msg.cseq().unwrap().seq > bob_invites[0].msg.cseq().unwrap().seq);
    assert!(net.events(ALICE).contains(&Event::ReinviteReceived {
        call: a,
        body: Some(Body::sdp(ANSWER))
    }));
    let now = net.now;
    net.ua(ALICE)
        .answer(now, a, 200, Some(Body::sdp(OFFER)))
        .unwrap();
    net.run();
    assert!(net.events(BOB).contains(&Event::ReinviteResult {
        call: b,
        code: 200,
        body: Some(Body::sdp(OFFER))
    }));

    // Alice retries after 2.1 + 0.5 = 2.6 s.
    net.advance(secs(3.0));
    let alice_invites = net.sent(ALICE, BOB, "INVITE");
    assert_eq!(alice_invites.len(), 3, "{:?}", net.trace());
    assert_eq!(alice_invites[2].at - t0, secs(2.6));
    let now = net.now;
    net.ua(BOB)
        .answer(now, b, 200, Some(Body::sdp(ANSWER)))
        .unwrap();
    net.run();
    assert!(net.events(ALICE).contains(&Event::ReinviteResult {
        call: a,
        code: 200,
        body: Some(Body::sdp(ANSWER))
    }));
    // Every re-INVITE 2xx was ACKed with the re-INVITE's CSeq.
    let acks = net.sent(ALICE, BOB, "ACK");
    assert_eq!(
        acks.last().unwrap().msg.cseq().unwrap().seq,
        alice_invites[2].msg.cseq().unwrap().seq
    );
}

#[test]
fn reinvite_refreshes_the_remote_target_rfc3261_12_2() {
    let mut net = two();
    let (a, b) = established(&mut net);
    // Bob moves: his re-INVITE carries a new Contact.
    assert_eq!(
        net.ua(ALICE).dialog(a).unwrap().remote_target,
        "sip:bob@192.0.2.2:5060"
    );
    // Forge Bob's re-INVITE from his dialog, with the new Contact.
    let mut d = net.ua(BOB).dialog(b).unwrap().clone();
    let r = d.new_request(Method::Invite);
    let msg = r
        .builder
        .header("Via", "SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKmove")
        .contact("<sip:bob@192.0.2.2:5070>")
        .build()
        .unwrap();
    let now = net.now;
    net.ua(ALICE)
        .handle_message(now, addr(BOB), Transport::Udp, msg);
    net.run();
    assert_eq!(
        net.ua(ALICE).dialog(a).unwrap().remote_target,
        "sip:bob@192.0.2.2:5070"
    );
}

#[test]
fn options_answered_with_allow_accept_and_supported_rfc3261_11_2() {
    let mut net = two();
    let now = net.now;
    let h = net
        .ua(ALICE)
        .options(now, &format!("sip:bob@{BOB}"))
        .unwrap();
    net.run();
    let ok = &net.sent(BOB, ALICE, "200 OPTIONS")[0].msg;
    let allow: Vec<&str> = ok.tokens(HeaderName::Allow).collect();
    assert_eq!(
        allow,
        ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE"]
    );
    assert!(ok
        .tokens(HeaderName::Accept)
        .any(|t| t == "application/sdp"));
    assert!(ok.header("Accept-Encoding").is_some());
    assert!(ok.header("Accept-Language").is_some());
    match &net.events(ALICE)[..] {
        [Event::RequestResult {
            request,
            code: 200,
            response: Some(_),
        }] => assert_eq!(*request, h),
        other => panic!("{other:?}"),
    }
}

#[test]
fn options_without_answer_reports_408_rfc3261_8_1_3_1() {
    let mut net = two();
    net.lose(|s| s.method().as_deref() == Some("OPTIONS"));
    let now = net.now;
    let h = net
        .ua(ALICE)
        .options(now, &format!("sip:bob@{BOB}"))
        .unwrap();
    net.advance(secs(40.0));
    assert_eq!(
        net.events(ALICE),
        [Event::RequestResult {
            request: h,
            code: 408,
            response: None
        }]
    );
}

#[test]
fn message_is_delivered_and_answered_200_rfc3428() {
    let mut net = two();
    let now = net.now;
    let h = net
        .ua(ALICE)
        .message(
            now,
            &format!("sip:bob@{BOB}"),
            Body::new("text/plain", "Watson, come here."),
        )
        .unwrap();
    net.run();
    assert_eq!(
        net.events(BOB),
        [Event::MessageReceived {
            call: None,
            from: "sip:alice@example.com".into(),
            body: Some(Body::new("text/plain", "Watson, come here."))
        }]
    );
    assert!(matches!(
        &net.events(ALICE)[..],
        [Event::RequestResult { request, code: 200, .. }] if *request == h
    ));
    let msg = &net.sent(ALICE, BOB, "MESSAGE")[0].msg;
    assert_eq!(msg.header("Content-Type"), Some("text/plain"));
}

#[test]
fn rejected_call_ends_with_the_code_and_3xx_lists_targets_rfc3261_8_1_3_4() {
    let mut net = two();
    let now = net.now;
    let a = net
        .ua(ALICE)
        .invite(now, &format!("sip:bob@{BOB}"), None)
        .unwrap();
    net.run();
    let b = incoming(&net.events(BOB));
    net.ua(BOB).answer(now, b, 486, None).unwrap();
    net.run();
    assert_eq!(
        ended(&net.events(ALICE)),
        [EndReason::Rejected { code: 486 }]
    );
    assert_eq!(ended(&net.events(BOB)), [EndReason::Rejected { code: 486 }]);
    assert_eq!(net.sent(ALICE, BOB, "ACK").len(), 1);
    let _ = a;
}

#[test]
fn bye_in_an_unknown_dialog_gets_481_rfc3261_12_2_2() {
    let mut net = two();
    let bye = Message::parse(
        &b"BYE sip:bob@192.0.2.2:5060 SIP/2.0\r\n\
           Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnope\r\nMax-Forwards: 70\r\n\
           To: <sip:bob@example.com>;tag=unknown\r\nFrom: <sip:alice@example.com>;tag=x\r\n\
           Call-ID: nope@192.0.2.1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"[..],
    )
    .unwrap();
    let now = net.now;
    net.ua(BOB)
        .handle_message(now, addr(ALICE), Transport::Udp, bye);
    net.run();
    assert_eq!(net.sent(BOB, ALICE, "481 BYE").len(), 1);
}

#[test]
fn request_with_lower_cseq_in_a_dialog_gets_500_rfc3261_12_2_2() {
    let mut net = two();
    let (_a, b) = established(&mut net);
    // Requests from Bob, built from his view of the dialog.
    let first = net
        .ua(BOB)
        .dialog(b)
        .unwrap()
        .clone()
        .new_request(Method::Options);
    let msg1 = first
        .builder
        .header("Via", "SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKo1")
        .build()
        .unwrap();
    let now = net.now;
    net.ua(ALICE)
        .handle_message(now, addr(BOB), Transport::Udp, msg1.clone());
    net.run();
    assert_eq!(net.sent(ALICE, BOB, "200 OPTIONS").len(), 1);
    let text = String::from_utf8(msg1.as_bytes().to_vec())
        .unwrap()
        .replace("z9hG4bKo1", "z9hG4bKo2")
        .replace(
            &format!("CSeq: {} OPTIONS", msg1.cseq().unwrap().seq),
            "CSeq: 0 OPTIONS",
        );
    net.ua(ALICE).handle_message(
        now,
        addr(BOB),
        Transport::Udp,
        Message::parse(text.into_bytes()).unwrap(),
    );
    net.run();
    assert_eq!(net.sent(ALICE, BOB, "500 OPTIONS").len(), 1);
}

#[test]
fn a_3xx_is_followed_to_its_contact_with_a_new_cseq_rfc3261_8_1_3_4() {
    let mut net = two();
    net.add("carol", CAROL);
    let now = net.now;
    let a = net
        .ua(ALICE)
        .invite(now, &format!("sip:bob@{BOB}"), Some(Body::sdp(OFFER)))
        .unwrap();
    net.run();
    let _ = incoming(&net.events(BOB));
    // Bob's side redirects to Carol (a redirect server would).
    let invite = net.sent(ALICE, BOB, "INVITE").remove(0).msg;
    let redirect = strowger_message::ResponseBuilder::new(&invite, 302)
        .to_tag("redir")
        .header("Contact", &format!("<sip:carol@{CAROL}>"))
        .build()
        .unwrap();
    let now = net.now;
    net.ua(ALICE)
        .handle_message(now, addr(BOB), Transport::Udp, redirect);
    net.run();
    // The 302 is ACKed by the transaction; a new INVITE goes to Carol.
    assert_eq!(net.sent(ALICE, BOB, "ACK").len(), 1);
    let to_carol = net.sent(ALICE, CAROL, "INVITE");
    assert_eq!(to_carol.len(), 1);
    let second = &to_carol[0].msg;
    assert_eq!(
        second.request_uri_str(),
        Some(format!("sip:carol@{CAROL}").as_str())
    );
    assert_eq!(second.call_id(), invite.call_id(), "same Call-ID");
    assert_eq!(second.from_tag(), invite.from_tag(), "same From");
    assert_eq!(
        second.cseq().unwrap().seq,
        invite.cseq().unwrap().seq + 1,
        "a new CSeq"
    );
    let c = incoming(&net.events(CAROL));
    let now = net.now;
    net.ua(CAROL)
        .answer(now, c, 200, Some(Body::sdp(OFFER)))
        .unwrap();
    net.run();
    assert!(net
        .events(ALICE)
        .iter()
        .any(|e| matches!(e, Event::CallAnswered { call, .. } if *call == a)));
}
