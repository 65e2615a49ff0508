#!/usr/bin/env python3
"""gen_corpus.py - a corpus of realistic mail for the benchmarks.

SYNOPSIS
    tests/bench/gen_corpus.py -o DIR [-n COUNT] [-s 4k|20k|200k|2m] [--seed N]
                              [--infected PCT] [--list]

DESCRIPTION
    Writes COUNT messages (default 100) into DIR as 00000.eml, 00001.eml ...,
    every one different, the whole corpus a function of the seed (default 1)
    alone: the same command writes the same bytes on any machine.

    The messages look like what mail user agents send: a Received chain,
    Return-Path, a DKIM-Signature, From/To/Cc with display names (some
    RFC 2047 encoded), Date, Message-ID, User-Agent or X-Mailer of a
    Thunderbird, Outlook, Apple Mail or webmail, and a body of
    multipart/alternative text/plain (quoted-printable) + text/html.
    By size:
      4k    multipart/alternative alone, about 4 KB
      20k   multipart/mixed: the alternative + a small inline image (PNG-like)
      200k  multipart/mixed: the alternative + a base64 attachment of about
            145 KB: a PDF-like file, a zip of random members or a docx-like
            zip (OOXML parts + a media file), in turn
      2m    the same with an attachment of about 1.5 MB
    Attachment payloads are pseudo-random (compressed data looks random),
    so a zip member is stored, not deflated, as a zip of a JPEG would be.

    --infected PCT makes PCT percent of the messages (chosen by the seed)
    carry the EICAR test file, in turn: inside a zip attachment, as a plain
    attachment (base64), and as a line of the text part.  Their file names
    are INFECTED-*.eml, the rest CLEAN-*.eml when PCT > 0, so a benchmark
    or a test can tell which verdict each should get.

    --list prints one line per message: name, bytes, kind.

DIAGNOSTICS
    Exit 2 on a usage error; DIR is created when missing.
"""
import argparse
import base64
import io
import os
import quopri
import random
import sys
import zipfile

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

WORDS = ("the report meeting quarter figures attached please find below thanks regards "
         "project update schedule budget review draft final version customer order invoice "
         "delivery shipment team next week monday friday call agenda notes minutes proposal "
         "contract price offer discount summary results sales marketing support ticket issue "
         "release server backup access account password reset confirm request approval "
         "travel hotel flight booking conference slides presentation feedback comments").split()
FIRST = "Alice Bob Carol David Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent Victor Walter".split()
LAST = "Smith Jones Müller García Rossi Dubois Nowak Svensson Kowalski Novák Jensen Silva Ivanova Schmidt O'Brien".split()
DOMAINS = "example.org example.net example.com mail.example.de corp.example.co.uk example.fr".split()
AGENTS = [
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.{}.0"),
    ("X-Mailer", "Microsoft Outlook 16.0"),
    ("X-Mailer", "Apple Mail (2.{})"),
    ("User-Agent", "Roundcube Webmail/1.6.{}"),
]


def words(r, n):
    return " ".join(r.choice(WORDS) for _ in range(n))


def paragraph(r, nbytes):
    out, size = [], 0
    while size < nbytes:
        s = words(r, r.randint(6, 18)).capitalize() + "."
        out.append(s)
        size += len(s) + 1
    return " ".join(out)


def person(r):
    f, l = r.choice(FIRST), r.choice(LAST)
    addr = "%s.%s@%s" % (f.lower(), l.lower().replace("'", ""), r.choice(DOMAINS))
    addr = addr.encode("ascii", "replace").decode().replace("?", "u")
    name = "%s %s" % (f, l)
    try:
        name.encode("ascii")
        disp = '"%s"' % name if "'" in name else name
    except UnicodeEncodeError:
        disp = "=?UTF-8?B?%s?=" % base64.b64encode(name.encode()).decode()
    return disp, addr


def b64(data):
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\n"


def payload_pdf(r, n):
    body = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
                     b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
                     b"3 0 obj\n<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>\nendobj\n")
    stream = r.randbytes(max(0, n - len(body) - 120))
    body += b"4 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
    body += stream + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    return body, "application/pdf", "%s.pdf" % r.choice(["report", "invoice", "scan", "statement"])


def zipped(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(2025, 11, 22, 3, 0, 0)), data)
    return buf.getvalue()


def payload_zip(r, n):
    k = r.randint(2, 4)
    members = [("%s_%d.%s" % (r.choice(["photo", "data", "scan"]), i, r.choice(["jpg", "bin", "dat"])),
                r.randbytes(max(1, (n - 200 * k) // k))) for i in range(k)]
    return zipped(members), "application/zip", "%s.zip" % r.choice(["photos", "archive", "files"])


def payload_docx(r, n):
    doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document "
           "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>" +
           "".join("<w:p><w:r><w:t>%s</w:t></w:r></w:p>" % paragraph(r, 200) for _ in range(6)) +
           "</w:body></w:document>").encode()
    members = [
        ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
         b"<Default Extension=\"xml\" ContentType=\"application/xml\"/></Types>"),
        ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships/>"),
        ("word/document.xml", doc),
        ("word/media/image1.png", b"\x89PNG\r\n\x1a\n" + r.randbytes(max(1, n - len(doc) - 600))),
    ]
    return (zipped(members), "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "%s.docx" % r.choice(["minutes", "proposal", "contract"]))


def message(r, i, size, infected):
    """one message: (bytes, kind); infected: None, or the message's number among the infected"""
    fdisp, faddr = person(r)
    tos = [person(r) for _ in range(r.randint(1, 3))]
    subj = words(r, r.randint(3, 7)).capitalize()
    if r.random() < 0.2:
        subj = "=?UTF-8?Q?%s?=" % quopri.encodestring(("Réf: " + subj).encode(), header=True).decode()
    day = 1 + i % 28
    mid = "%08x.%d@%s" % (r.getrandbits(32), i, faddr.split("@")[1])
    hname, hval = r.choice(AGENTS)
    hval = hval.format(r.randint(1, 9))
    relay = "mx%d.%s" % (r.randint(1, 4), r.choice(DOMAINS))
    bnd = "------------%024d" % r.getrandbits(64)
    h = []
    h.append("Return-Path: <%s>" % faddr)
    h.append("Received: from %s (%s [192.0.2.%d])\n\tby %s (Postfix) with ESMTPS id %X\n\tfor <%s>; "
             "Sat, %d Nov 2025 %02d:%02d:%02d +0000" % (faddr.split("@")[1], relay, r.randint(1, 254),
                                                     relay, r.getrandbits(40), tos[0][1], day,
                                                     r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)))
    h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=s1;\n\tt=%d; "
             "h=from:to:subject:date:message-id;\n\tbh=%s;\n\tb=%s" % (
                 faddr.split("@")[1], 1763780000 + i, base64.b64encode(r.randbytes(32)).decode(),
                 "\n\t ".join(base64.b64encode(r.randbytes(96)).decode()[j:j + 64] for j in range(0, 128, 64))))
    h.append("Message-ID: <%s>" % mid)
    h.append("Date: Sat, %d Nov 2025 %02d:%02d:%02d +0100" % (day, r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)))
    h.append("MIME-Version: 1.0")
    h.append("%s: %s" % (hname, hval))
    h.append("Content-Language: en-US")
    h.append("From: %s <%s>" % (fdisp, faddr))
    h.append("To: " + ",\n ".join("%s <%s>" % t for t in tos))
    h.append("Subject: " + subj)

    text_len = {"4k": 1250, "20k": 1500, "200k": 1500, "2m": 1500}[size]
    text = paragraph(r, text_len)
    evil = None
    if infected is not None:
        evil = ("zip", "attach", "text")[infected % 3]
        if evil == "text":
            text = text[:len(text) // 2] + "\n" + EICAR.decode() + "\n" + text[len(text) // 2:]
    plain = quopri.encodestring(("Hi,\n\n%s\n\n-- \n%s\n" % (text, fdisp)).encode()).decode()
    html = ("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"></head>"
            "<body><p>Hi,</p>\n<p>%s</p>\n<p>--<br>%s</p></body></html>\n" % (text.replace("\n", "<br>\n"), fdisp))
    alt_b = "alt-" + bnd
    alt = ("--%s\nContent-Type: text/plain; charset=UTF-8; format=flowed\nContent-Transfer-Encoding: quoted-printable\n\n"
           "%s\n--%s\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n%s\n--%s--\n") % (
        alt_b, plain, alt_b, quopri.encodestring(html.encode()).decode(), alt_b)

    attach = []
    if size == "20k":
        img = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + r.randbytes(11000)
        attach.append((img, "image/png", "image%03d.png" % r.randint(1, 999), "inline"))
    elif size in ("200k", "2m"):
        n = 145000 if size == "200k" else 1500000
        data, ctype, name = (payload_pdf, payload_zip, payload_docx)[i % 3](r, n)
        attach.append((data, ctype, name, "attachment"))
    if evil == "zip":
        attach.append((zipped([("readme.txt", paragraph(r, 300).encode()), ("eicar.com", EICAR)]),
                       "application/zip", "documents.zip", "attachment"))
    elif evil == "attach":
        attach.append((EICAR, "application/octet-stream", "eicar.com", "attachment"))

    if not attach:
        h.append("Content-Type: multipart/alternative;\n boundary=\"%s\"" % alt_b)
        body = "This is a multi-part message in MIME format.\n" + alt
    else:
        h.append("Content-Type: multipart/mixed;\n boundary=\"%s\"" % bnd)
        body = ("This is a multi-part message in MIME format.\n--%s\nContent-Type: multipart/alternative;\n"
                " boundary=\"%s\"\n\n%s") % (bnd, alt_b, alt)
        for data, ctype, name, disp in attach:
            body += ("\n--%s\nContent-Type: %s; name=\"%s\"\nContent-Disposition: %s; filename=\"%s\"\n"
                     "Content-Transfer-Encoding: base64\n\n%s") % (bnd, ctype, name, disp, name, b64(data))
        body += "\n--%s--\n" % bnd
    kind = "%s%s%s" % (size, "".join("+" + a[1] for a in attach), " INFECTED(%s)" % evil if evil else "")
    return ("\n".join(h) + "\n\n" + body).encode(), kind


def main():
    ap = argparse.ArgumentParser(description="write a corpus of realistic mail")
    ap.add_argument("-o", required=True, help="output directory")
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("-s", default="4k", choices=["4k", "20k", "200k", "2m"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--infected", type=float, default=0.0, help="percent of messages with EICAR")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.n < 1 or not 0 <= a.infected <= 100:
        ap.error("-n must be >= 1 and --infected within 0..100")
    os.makedirs(a.o, exist_ok=True)
    pick = random.Random("%d-infected" % a.seed)
    bad = sorted(pick.sample(range(a.n), round(a.n * a.infected / 100)))
    nth = {m: j for j, m in enumerate(bad)}
    for i in range(a.n):
        r = random.Random("%d-%s-%d" % (a.seed, a.s, i))
        data, kind = message(r, i, a.s, nth.get(i))
        prefix = "" if a.infected == 0 else ("INFECTED-" if i in bad else "CLEAN-")
        name = "%s%05d.eml" % (prefix, i)
        with open(os.path.join(a.o, name), "wb") as f:
            f.write(data)
        if a.list:
            print("%s %d %s" % (name, len(data), kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())
