#!/usr/bin/env python3
"""qmqp_peer.py - a QMQP client and server written from the protocol text
(qmail's qmail-qmqpc(8) / qmail-qmqpd(8) and djb's netstring definition),
sharing no code with sluice: the independent peer of the integration tests.

  request: netstring( netstring(message) netstring(sender) netstring(rcpt)... )
  reply:   netstring( "K" text | "Z" text | "D" text )
  netstring: <decimal length> ":" <bytes> ","

Usage:
  qmqp_peer.py encode --message F --sender S [--rcpt R]... > request
      the request's bytes (in addresses, the two characters \\0 are a NUL)
  qmqp_peer.py send HOST PORT (--message F --sender S [--rcpt R]... | --raw F)
                    [--source IP] [--timeout SECONDS]
      prints "reply <payload>" or "noreply <why>"; exits like qmail-qmqpc:
      0 K, 71 Z, 31 D, 74 no or broken reply, 73 refused, 72 timed out
  qmqp_peer.py serve --port-file F --record DIR --mode MODE [--host H]
                     [--count N] [--life SECONDS]
      answers N connections (default 1), then exits (after LIFE seconds
      (30) at the latest).  DIR/request.I holds connection I's raw bytes,
      DIR/message.I and DIR/envelope.I ("F<s>\\0T<r>\\0...") what it parsed.
      MODE: K | Z | D (a reply with that letter), garbage (an HTTP status
      line), close (no reply), hang (no reply until the client leaves),
      truncated (half a reply), blackhole (never accepts: its one-place
      accept queue is filled at start, so a connect times out).
      --text T replaces the K, Z or D reply's payload (\r and \n in T
      stand for CR and LF).
"""
import argparse
import os
import socket
import sys
import time


def netstring(b):
    return str(len(b)).encode() + b":" + b + b","


def encode(message, sender, rcpts):
    inner = netstring(message) + netstring(sender)
    for r in rcpts:
        inner += netstring(r)
    return netstring(inner)


def parse_netstring(buf, pos):
    """(payload, next position) of the netstring at buf[pos:]; ValueError if bad."""
    colon = buf.index(b":", pos)
    digits = buf[pos:colon]
    if not digits.isdigit():
        raise ValueError("bad length %r" % digits)
    n = int(digits)
    end = colon + 1 + n
    if len(buf) < end + 1:
        raise IndexError("short")
    if buf[end:end + 1] != b",":
        raise ValueError("no comma")
    return buf[colon + 1:end], end + 1


def read_request(conn):
    """The raw request: bytes until one whole netstring arrived (or EOF)."""
    buf = b""
    while True:
        try:
            parse_netstring(buf, 0)
            return buf
        except (IndexError, ValueError):
            # ValueError before the colon arrives is just "short"
            if b":" in buf and not buf[:buf.index(b":")].isdigit():
                return buf
        chunk = conn.recv(65536)
        if not chunk:
            return buf
        buf += chunk


def addr(s):
    """An address from the command line; the two bytes \\0 stand for a NUL."""
    return s.encode("latin-1").replace(b"\\0", b"\0")


def cmd_encode(a):
    msg = open(a.message, "rb").read()
    sys.stdout.buffer.write(encode(msg, addr(a.sender), [addr(r) for r in a.rcpt]))


def cmd_send(a):
    if a.raw:
        req = open(a.raw, "rb").read()
    else:
        msg = open(a.message, "rb").read()
        req = encode(msg, addr(a.sender), [addr(r) for r in a.rcpt])
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    if a.source:
        s.bind((a.source, 0))
    try:
        s.connect((a.host, a.port))
    except socket.timeout:
        print("noreply connect timed out")
        return 72
    except OSError as e:
        print("noreply connect: %s" % e)
        return 73
    got = b""
    try:
        s.sendall(req)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
            try:
                payload, _ = parse_netstring(got, 0)
                break
            except IndexError:
                continue
            except ValueError:
                break
    except OSError as e:
        print("noreply %s (after %d reply bytes)" % (e, len(got)))
        return 74
    finally:
        s.close()
    try:
        payload, _ = parse_netstring(got, 0)
    except (IndexError, ValueError):
        print("noreply %r" % got)
        return 74
    print("reply " + payload.decode("latin-1"))
    return {b"K": 0, b"Z": 71, b"D": 31}.get(payload[:1], 74)


def cmd_serve(a):
    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, 0))
    filler = None
    if a.mode == "blackhole":
        # Linux drops a SYN while the accept queue is full: with a backlog
        # of 0 one connection fills it, and every later connect times out
        ls.listen(0)
        filler = socket.socket(family, socket.SOCK_STREAM)
        filler.connect(ls.getsockname()[:2])
    else:
        ls.listen(8)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, a.port_file)
    end = time.monotonic() + a.life
    if filler:
        time.sleep(max(0, end - time.monotonic()))
        return 0
    for i in range(1, a.count + 1):
        ls.settimeout(max(0.1, end - time.monotonic()))
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            return 1
        conn.settimeout(max(0.1, end - time.monotonic()))
        try:
            req = read_request(conn)
        except socket.timeout:
            req = b""
        open(os.path.join(a.record, "request.%d" % i), "wb").write(req)
        try:
            inner, _ = parse_netstring(req, 0)
            msg, pos = parse_netstring(inner, 0)
            sender, pos = parse_netstring(inner, pos)
            env = b"F" + sender + b"\0"
            while pos < len(inner):
                rcpt, pos = parse_netstring(inner, pos)
                env += b"T" + rcpt + b"\0"
            open(os.path.join(a.record, "message.%d" % i), "wb").write(msg)
            open(os.path.join(a.record, "envelope.%d" % i), "wb").write(env)
        except (IndexError, ValueError):
            pass
        try:
            if a.mode in ("K", "Z", "D"):
                text = {"K": b"Kok 1700000000 qp 4242",
                        "Z": b"Zpeer says: try again later (#4.3.0)",
                        "D": b"Dpeer says: no such user (#5.1.1)"}[a.mode]
                if a.text is not None:
                    text = a.text.replace("\\r", "\r").replace("\\n", "\n").encode("latin-1")
                conn.sendall(netstring(text))
            elif a.mode == "garbage":
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
            elif a.mode == "truncated":
                conn.sendall(b"22:Kok 17000")
            elif a.mode == "hang":
                while conn.recv(4096):
                    pass
        except OSError:
            pass
        conn.close()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("encode")
    e.add_argument("--message", required=True)
    e.add_argument("--sender", required=True)
    e.add_argument("--rcpt", action="append", default=[])
    s = sub.add_parser("send")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--message")
    s.add_argument("--sender", default="")
    s.add_argument("--rcpt", action="append", default=[])
    s.add_argument("--raw")
    s.add_argument("--source")
    s.add_argument("--timeout", type=float, default=30)
    v = sub.add_parser("serve")
    v.add_argument("--port-file", required=True)
    v.add_argument("--record", required=True)
    v.add_argument("--mode", required=True,
                   choices=["K", "Z", "D", "garbage", "close", "hang", "truncated",
                            "blackhole"])
    v.add_argument("--text")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--count", type=int, default=1)
    v.add_argument("--life", type=float, default=30)
    a = p.parse_args()
    if a.cmd == "encode":
        cmd_encode(a)
        return 0
    if a.cmd == "send":
        if not a.raw and a.message is None:
            p.error("send needs --message or --raw")
        return cmd_send(a)
    return cmd_serve(a)


if __name__ == "__main__":
    sys.exit(main())
