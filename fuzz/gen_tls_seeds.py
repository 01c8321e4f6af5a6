#!/usr/bin/env python3
"""gen_tls_seeds.py: writes the fuzz_tls seeds (fuzz/seeds/fuzz_tls/) from handshakes built here.

Usage: fuzz/gen_tls_seeds.py [outdir]. Needs the openssl command for a test certificate.
Each seed is fuzz_tls's input: chunks of [flags (bit 0: direction, bit 1: gap), u16 length, data].
"""
import os
import struct
import subprocess
import sys
import tempfile


def u8(v): return struct.pack(">B", v)
def u16(v): return struct.pack(">H", v)
def u24(v): return struct.pack(">I", v)[1:]


def ext(t, body): return u16(t) + u16(len(body)) + body


def hs(t, body): return u8(t) + u24(len(body)) + body


def records(ctype, payload, frag=16384, ver=0x0303):
    out = b""
    for i in range(0, max(len(payload), 1), frag):
        chunk = payload[i:i + frag]
        out += u8(ctype) + u16(ver) + u16(len(chunk)) + chunk
    return out


def client_hello(sni=b"www.example.com", grease=True, tls13=True):
    ciphers = ([0x0a0a] if grease else []) + [0x1301, 0x1302, 0xc02b, 0xc02f, 0x009c, 0x002f]
    exts = b""
    if grease:
        exts += ext(0x1a1a, b"")
    name = u8(0) + u16(len(sni)) + sni
    exts += ext(0, u16(len(name)) + name)
    exts += ext(10, u16(6) + u16(0x2a2a) + u16(29) + u16(23))
    exts += ext(11, u8(1) + u8(0))
    exts += ext(13, u16(4) + u16(0x0403) + u16(0x0804))
    exts += ext(16, u16(3) + u8(2) + b"h2")
    if tls13:
        exts += ext(43, u8(4) + u16(0x0304) + u16(0x0303))
    body = u16(0x0303) + b"\x11" * 32 + u8(0) + u16(2 * len(ciphers))
    body += b"".join(u16(c) for c in ciphers) + u8(1) + u8(0) + u16(len(exts)) + exts
    return hs(1, body)


def server_hello(tls13=False, cipher=0xc02f):
    exts = ext(0xff01, b"\x00")
    if tls13:
        exts = ext(43, u16(0x0304)) + ext(51, u16(29) + u16(0))
    body = u16(0x0303) + b"\x22" * 32 + u8(0) + u16(cipher) + u8(0) + u16(len(exts)) + exts
    return hs(2, body)


def make_cert():
    with tempfile.TemporaryDirectory() as d:
        key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.der")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-outform", "DER",
                        "-out", crt, "-days", "365", "-subj",
                        "/C=US/ST=California/O=Example/CN=www.example.com",
                        "-addext", "subjectAltName=DNS:www.example.com,IP:192.0.2.1"],
                       check=True, capture_output=True)
        with open(crt, "rb") as f:
            return f.read()


def chunk(direction, data, gap=False):
    return u8(direction | (2 if gap else 0)) + u16(len(data) if not gap else data) + (
        b"" if gap else data)


def split(direction, data, size):
    return b"".join(chunk(direction, data[i:i + size]) for i in range(0, len(data), size))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                             "seeds", "fuzz_tls")
    os.makedirs(out, exist_ok=True)
    cert = make_cert()
    certs = u24(len(cert) + 3) + u24(len(cert)) + cert
    flight12 = server_hello() + hs(11, certs) + hs(14, b"")
    ch = records(22, client_hello())
    seeds = {
        "tls12-full": chunk(0, ch) + chunk(1, records(22, flight12)) +
        chunk(0, records(20, b"\x01") + records(22, b"\xee" * 40)) +
        chunk(1, records(20, b"\x01") + records(23, b"\xab" * 64)),
        "tls12-split": split(0, records(22, client_hello(), 9), 5) +
        split(1, records(22, flight12, 100), 37),
        "tls13": chunk(0, records(22, client_hello())) +
        chunk(1, records(22, server_hello(True, 0x1301)) + records(20, b"\x01") +
              records(23, b"\xcd" * 100)),
        "resumed": chunk(0, ch) + chunk(1, records(22, server_hello()) + records(20, b"\x01")),
        "gap": chunk(0, ch[:30]) + chunk(0, 20, gap=True) + chunk(0, ch[50:]) +
        chunk(1, records(23, b"x" * 50)[:20]) + chunk(1, 10, gap=True),
        "sslv2": chunk(0, bytes([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00,
                                 0x10, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x35, 0x01, 0x00, 0x80,
                                 0x00, 0x00, 0x0a, 0x07, 0x00, 0xc0, 0x00, 0x00, 0x05]) +
                         bytes(range(1, 17))),
        "no-sni-tls10": chunk(0, records(22, client_hello(b"", False, False), ver=0x0301)),
        "heartbeat": chunk(0, ch + records(24, b"\x01\x40\x00" + b"A" * 16)),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
