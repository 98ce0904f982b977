#!/usr/bin/env python3
"""Writes the seeds of the rtp_parse, digest_credentials, transaction and proxy targets
(fuzz/seeds/<target>/). Run from fuzz/: python3 seeds/make_seeds.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# -- rtp_parse --------------------------------------------------------------------------

def rtp(pt, seq, ts, ssrc, payload, marker=False, csrcs=(), ext=None, pad=0):
    first = 0x80 | len(csrcs) | (0x20 if pad else 0) | (0x10 if ext else 0)
    out = bytes([first, (0x80 if marker else 0) | pt]) + struct.pack(">HII", seq, ts, ssrc)
    for c in csrcs:
        out += struct.pack(">I", c)
    if ext:
        profile, data = ext
        out += struct.pack(">HH", profile, len(data) // 4) + data
    out += payload
    if pad:
        out += b"\0" * (pad - 1) + bytes([pad])
    return out


def block(ssrc, frac, lost, high, jitter, lsr, dlsr):
    return struct.pack(">IIIIII", ssrc, (frac << 24) | (lost & 0xFFFFFF), high, jitter, lsr, dlsr)


def rtcp(count, ptype, body, pad=0):
    if pad:
        body += b"\0" * (pad - 1) + bytes([pad])
    return bytes([0x80 | (0x20 if pad else 0) | count, ptype]) + struct.pack(">H", len(body) // 4) + body


write("rtp_parse", "pcmu", rtp(0, 1, 160, 0x11223344, bytes(range(0xFF, 0xFF - 160, -1))))
write("rtp_parse", "dtmf-marker", rtp(101, 0xFFFF, 0xDEADBEEF, 0x1234, bytes([5, 0x8A, 0x03, 0x20]), marker=True))
write("rtp_parse", "csrc-ext-pad", rtp(8, 7, 8000, 0xCAFE, b"\xd5" * 16, True, (1, 2, 3),
                                      (0xBEDE, b"\x10\x01\x00\x00"), 4))
write("rtp_parse", "ext-empty", rtp(96, 9, 9, 9, b"", ext=(0x1000, b"")))
sr = rtcp(1, 200, struct.pack(">IIIII", 0xCAFE, 0xE5A1B2C3, 0x80000000, 160000, 1000)
          + struct.pack(">I", 160000)[:0] + struct.pack(">I", 160000)
          + block(0x1234, 12, -3, 0x10005, 40, 0xA1B2C3D4, 65536))
cname = b"alice@192.0.2.1"
sdes_body = struct.pack(">I", 0xCAFE) + bytes([1, len(cname)]) + cname
sdes_body += b"\0" * (4 - len(sdes_body) % 4)
write("rtp_parse", "rtcp-sr-sdes", sr + rtcp(1, 202, sdes_body))
rr = rtcp(2, 201, struct.pack(">I", 0xBEEF) + block(1, 0, 5, 100, 2, 0, 0) + block(2, 255, 0x7FFFFF, 7, 0, 1, 2))
bye_reason = b"\x08shutdown"
bye = rtcp(1, 203, struct.pack(">I", 0xBEEF) + bye_reason + b"\0" * ((4 - len(bye_reason) % 4) % 4))
write("rtp_parse", "rtcp-rr-bye", rr + bye)
write("rtp_parse", "rtcp-app-padded", rtcp(0, 201, struct.pack(">I", 5)) + rtcp(3, 204, struct.pack(">I", 5) + b"name1234", pad=4))

# -- digest_credentials --------------------------------------------------------------------

def lines(*ls):
    return b"\n".join(bytes([c]) + v.encode() for c, v in ls)


GOOD = ('Digest username="alice", realm="example.com", nonce="$N", uri="sip:example.com", '
        'response="$R", algorithm={alg}, cnonce="0a4f113b", qop={qop}, nc={nc}')
write("digest_credentials", "rfc2617", lines((0, 'Digest username="Mufasa", realm="testrealm@host.com", '
      'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, '
      'cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"')))
write("digest_credentials", "rfc3261-bob", lines((0, 'Digest username="bob", realm="biloxi.com", '
      'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, '
      'cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"')))
write("digest_credentials", "challenges", lines(
    (0, 'Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth", '
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5'),
    (0, 'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", userhash=true'),
    (0, 'Digest realm="x", nonce="y", algorithm=SHA-512-256-sess, qop="auth-int"'),
    (0, 'Basic realm="example.com"'),
))
write("digest_credentials", "verify-ok-replay-stale", lines(
    (0, GOOD.format(alg="SHA-256", qop="auth", nc="00000001")),
    (0, GOOD.format(alg="SHA-256", qop="auth", nc="00000001")),
    (1, GOOD.format(alg="SHA-256", qop="auth", nc="00000002")),
    (0x0F, GOOD.format(alg="SHA-256", qop="auth", nc="00000003")),
))
write("digest_credentials", "verify-sess-int", lines(
    (0x10, GOOD.format(alg="MD5-sess", qop="auth-int", nc="00000001")),
    (0x00, GOOD.format(alg="md5", qop='"auth"', nc="0000000a").replace("$N", "$O")),
    (0x20, 'Digest username="nobody", realm="example.com", nonce="$N", uri="sip:example.com", response="$R", qop=auth, nc=1, cnonce="c"'),
    (0x00, 'Digest username="alice", realm="example.com", nonce="$N", uri="sip:example.com;transport=udp", response="$R"'),
))
write("digest_credentials", "verify-many-nonces", lines(*[
    (0x13, GOOD.format(alg="MD5", qop="auth", nc="00000001")) for _ in range(7)
]))

# -- transaction ----------------------------------------------------------------------

def sip(*hdrs, body=""):
    out = "\r\n".join(hdrs) + "\r\n"
    out += f"Content-Length: {len(body.encode())}\r\n\r\n" + body
    return out.encode()


def req(method, branch, cseq, uri="sip:bob@192.0.2.4", to_tag="", via_host="192.0.2.1:5060", extra=()):
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return sip(f"{method} {uri} SIP/2.0", f"Via: SIP/2.0/UDP {via_host};branch={branch}",
               "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=a1", f"To: {to}",
               "Call-ID: seed-call@192.0.2.1", f"CSeq: {cseq} {method.split()[0]}", *extra)


def resp(status, reason, branch, method, cseq, to_tag="", via_host="192.0.2.5:5060"):
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    return sip(f"SIP/2.0 {status} {reason}", f"Via: SIP/2.0/UDP {via_host};branch={branch}",
               "From: <sip:alice@example.com>;tag=fuzztag", f"To: {to}",
               "Call-ID: fuzz-call", f"CSeq: {cseq} {method}")


def segs(*ss):
    return b"\0".join(bytes([c]) + m for c, m in ss)


INV = req("INVITE", "z9hG4bK776asdhds", 1, extra=("Contact: <sip:alice@192.0.2.1>",))
write("transaction", "invite-2xx", segs((0x60, INV), (0x02, INV),
                                        (0x03, req("ACK", "z9hG4bK99ack", 1, to_tag="uas")), (0x06, b""), (0x07, b"")))
write("transaction", "invite-404-ack", segs((0x40, INV), (0x03, INV), (0x01, req("ACK", "z9hG4bK776asdhds", 1, to_tag="uas")),
                                           (0x05, b"")))
write("transaction", "invite-cancel", segs((0x20, INV), (0x02, req("CANCEL", "z9hG4bK776asdhds", 1)), (0x50, b"")))
OPT = req("OPTIONS", "z9hG4bKopt1", 5)
write("transaction", "options-tcp", segs((0x38, OPT), (0x08, OPT), (0x04, b""), (0x06, b"")))
write("transaction", "rfc2543-invite", segs((0x70, req("INVITE", "1234", 3)), (0x01, req("ACK", "1234", 3, to_tag="uas")),
                                            (0x00, req("INVITE", "", 4).replace(b";branch=", b""))))
write("transaction", "client-invite", segs(
    (0x80, resp(180, "Ringing", "z9hG4bKfuzz0", "INVITE", 1, "b1")),
    (0x03, resp(200, "OK", "z9hG4bKfuzz0", "INVITE", 1, "b1")),
    (0x04, resp(200, "OK", "z9hG4bKfuzz0", "INVITE", 1, "b1")),
    (0x80, resp(200, "OK", "z9hG4bKfuzz1", "OPTIONS", 2, "b2")),
    (0x07, b""),
))
write("transaction", "client-invite-486", segs(
    (0x80, resp(486, "Busy Here", "z9hG4bKfuzz0", "INVITE", 1, "b1")),
    (0x02, resp(486, "Busy Here", "z9hG4bKfuzz0", "INVITE", 1, "b1")),
    (0x05, b""), (0x06, b""),
))
write("transaction", "client-timeout", segs((0x80, b""), (0x83, b""), (0x05, b""), (0x06, b""), (0x07, b"")))
write("transaction", "stray", segs((0x00, resp(200, "OK", "z9hG4bKnone", "INVITE", 1)),
                                   (0x00, b"INVITE sip:x SIP/2.0\r\n\r\n")))

# -- proxy ------------------------------------------------------------------------------

def preq(method, branch, cseq, uri="sip:bob@example.com", extra=(), mf=70):
    return sip(f"{method} {uri} SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.1:5001;branch={branch};rport",
               f"Max-Forwards: {mf}", "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@example.com>",
               "Call-ID: proxy-call@127.0.0.1", f"CSeq: {cseq} {method}",
               "Contact: <sip:alice@127.0.0.1:5001>", *extra)


def psegs(*ss):
    return b"\0".join(bytes([c0, c1]) + m for c0, c1, m in ss)


PINV = preq("INVITE", "z9hG4bKp1", 1)
write("proxy", "invite-180-200", psegs((0x00, 0, PINV), (0x40, 1, b""), (0x40, 0x13, b""),
                                      (0x06, 0, b""), (0x07, 0, b"")))
write("proxy", "fork-busy", psegs((0x10, 0, PINV), (0x40, 10, b""), (0x40, 1, b""), (0x40, 13, b""),
                                  (0x40, 11, b""), (0x05, 0, b"")))
write("proxy", "cancel", psegs((0x00, 0, PINV), (0x40, 1, b""), (0x02, 0, preq("CANCEL", "z9hG4bKp1", 1)),
                               (0x40, 11, b""), (0x06, 0, b"")))
write("proxy", "timer-c", psegs((0x00, 0, PINV), (0x40, 1, b""), (0x07, 0, b""), (0x07, 0, b""), (0x07, 0, b""),
                                (0x07, 0, b"")))
write("proxy", "register-404", psegs((0x20, 0, preq("REGISTER", "z9hG4bKr1", 1, uri="sip:example.com")),
                                     (0x30, 0, preq("OPTIONS", "z9hG4bKo1", 2))))
write("proxy", "max-forwards-0", psegs((0x00, 0, preq("OPTIONS", "z9hG4bKm0", 1, mf=0))))
write("proxy", "route-to-us", psegs((0x00, 0, preq("OPTIONS", "z9hG4bKrt", 1,
                                                   extra=("Route: <sip:127.0.0.1:5060;lr>, <sip:p2.example.com;lr>",))),
                                    (0x00, 0, preq("OPTIONS", "z9hG4bKsr", 2, uri="sip:127.0.0.1:5060",
                                                   extra=("Route: <sip:bob@192.0.2.7>",)))))
write("proxy", "transport-error", psegs((0x00, 0, PINV), (0x80, 0, b""), (0x80, 0, b""), (0x06, 0, b"")))
write("proxy", "ack-bye", psegs((0x00, 0, PINV), (0x40, 3, b""),
                                (0x01, 0, preq("ACK", "z9hG4bKa1", 1).replace(b"To: <sip:bob@example.com>",
                                                                             b"To: <sip:bob@example.com>;tag=d0")),
                                (0x01, 0, preq("BYE", "z9hG4bKb1", 2).replace(b"To: <sip:bob@example.com>",
                                                                             b"To: <sip:bob@example.com>;tag=d0")),
                                (0x40, 3, b""), (0x06, 0, b"")))
write("proxy", "from-downstream", psegs((0x08, 0, resp(200, "OK", "z9hG4bK-sg0000000000000000-1", "INVITE", 1)),
                                        (0x08, 0, preq("BYE", "z9hG4bKdn", 9))))

# RFC 4475 messages as single segments (answer 200 / forward).
for f in ("invut.dat", "dblreq.dat", "wsinv.dat"):
    with open(os.path.join(HERE, "sip", f), "rb") as src:
        m = src.read()
    write("transaction", f"rfc4475-{f}", b"\x30" + m)
    write("proxy", f"rfc4475-{f}", b"\x00\x00" + m)
