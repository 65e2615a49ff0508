#!/usr/bin/env python3
"""wire_client.py - a hand-made client of sluiced's socket, for hostile tests.

It speaks the wire protocol of router/client.h (go byte 'G', request
"SLQ2" + KEY=VALUE pairs with two fds by SCM_RIGHTS, reply 'R' code plain fd
len text) but passes whatever fds it is told to, as a lying local client
would.

usage: wire_client.py SOCKET KIND [COUNT]
  KIND  socket   fd 0 = one end of a socketpair, fd 1 = a pipe
        self     fd 0 = the connection to the daemon itself
        devzero  fd 0 = /dev/zero, fd 1 = a pipe
        envsock  fd 0 = a pipe with a message, fd 1 = a socketpair end
        tty      fd 0 = /dev/null opened as a char device, fd 1 = a pipe
Prints one line per client: "reply <plain code> ms <ms>" or "noreply ms <ms>"
(the daemon closed or 10 s passed).
"""
import array
import os
import socket
import sys
import time


def one(path, kind):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    t0 = time.monotonic()
    if s.recv(1) != b"G":
        return "nogo"
    keep = []
    r, w = os.pipe()
    keep += [r, w]
    if kind == "socket":
        a, b = socket.socketpair()
        keep += [a, b]
        fds = [a.fileno(), r]
    elif kind == "self":
        fds = [s.fileno(), r]
    elif kind == "devzero":
        z = os.open("/dev/zero", os.O_RDONLY)
        keep.append(z)
        fds = [z, r]
    elif kind == "tty":
        z = os.open("/dev/null", os.O_RDONLY)
        keep.append(z)
        fds = [z, r]
    elif kind == "envsock":
        a, b = socket.socketpair()
        keep += [a, b]
        os.write(w, b"Subject: x\n\nhello\n")
        fds = [r, a.fileno()]
    else:
        raise SystemExit("unknown kind " + kind)
    if kind != "envsock":
        os.write(w, b"F\0")
    s.sendmsg([b"SLQ2PROTO=SMTP\0"],
               [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    if kind == "envsock":
        os.close(w)
        keep.remove(w)
    try:
        rep = s.recv(300)
    except socket.timeout:
        rep = b""
    ms = (time.monotonic() - t0) * 1000
    for k in keep:
        if isinstance(k, int):
            try:
                os.close(k)
            except OSError:
                pass
        else:
            k.close()
    s.close()
    if len(rep) >= 5 and rep[:1] == b"R":
        return "reply %d ms %d" % (rep[2], ms)
    return "noreply ms %d" % ms


def main():
    path, kind = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for _ in range(count):
        print(one(path, kind), flush=True)


if __name__ == "__main__":
    main()
