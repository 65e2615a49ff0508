#!/usr/bin/env python3
"""mkcorpus.py - writes the attach backend's mail corpus (banned/, clean/, limit/).

Run by hand when the corpus changes; the tests read the committed .eml files
and never need python.  Every message starts with the Received line qmail-queue
writes, uses LF line ends as a qmail mess file does (except crlf_exe.eml), and
is deterministic: fixed dates, fixed zip timestamps.
"""
import base64
import io
import os
import struct
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
STAMP = (2025, 3, 3, 11, 15, 0)


def head(subject, ctype=None, frm='"Accounts" <accounts@example.net>', extra='', inner=False):
    h = ('' if inner else 'Received: (qmail 1 invoked from network); 3 Mar 2025 10:15:02 -0000\n')
    h += ('Received: from mail.example.net (HELO mail.example.net) (203.0.113.5)\n'
         '  by relay.example.com with SMTP; 3 Mar 2025 10:15:02 -0000\n'
         'From: %s\n'
         'To: bob@example.com\n'
         'Subject: %s\n'
         'Date: Mon, 3 Mar 2025 11:15:00 +0100\n'
         'Message-ID: <%08x.%s@example.net>\n' % (frm, subject, zlib.crc32(subject.encode()),
                                                   ''.join(c for c in subject.split()[0].lower() if c.isalnum())))
    if ctype:
        h += 'MIME-Version: 1.0\nContent-Type: %s\n' % ctype
    return h + extra


def b64(data):
    s = base64.b64encode(data).decode()
    return '\n'.join(s[i:i + 76] for i in range(0, len(s), 76)) + '\n'


def mkzip(members, unicode_paths=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, STAMP)
            zi.compress_type = zipfile.ZIP_DEFLATED
            if unicode_paths and name in unicode_paths:
                u = unicode_paths[name].encode()
                zi.extra = struct.pack('<HHBI', 0x7075, 5 + len(u), 1,
                                       zlib.crc32(name.encode())) + u
            z.writestr(zi, data)
    return buf.getvalue()


def corrupt_cdir(data):
    """Break the signature of the first central directory entry."""
    eocd = data.rindex(b'PK\x05\x06')
    size, off = struct.unpack('<II', data[eocd + 12:eocd + 20])
    cd = eocd - size
    assert data[cd:cd + 4] == b'PK\x01\x02'
    return data[:cd] + b'XX' + data[cd + 2:]


EXE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00' + bytes(range(64)) * 4
PDF = (b'%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n'
       b'2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n'
       b'3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >> endobj\n'
       b'trailer << /Root 1 0 R >>\n%%EOF\n')
PNG = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')
DOCX = mkzip([('[Content_Types].xml', '<?xml version="1.0"?><Types/>'),
              ('_rels/.rels', '<?xml version="1.0"?><Relationships/>'),
              ('word/document.xml', '<?xml version="1.0"?><w:document>Minutes of the meeting</w:document>')])

TEXT = ('Hello Bob,\n\nplease find the documents for the March account attached.\n'
        'Let me know if anything is missing.\n\nRegards,\nAnna\n')


def mixed(subject, boundary, parts, ctype_extra=''):
    """A multipart/mixed message: a text part, then the given raw parts."""
    out = head(subject, 'multipart/mixed; boundary="%s"%s' % (boundary, ctype_extra))
    out += '\nThis is a multi-part message in MIME format.\n\n'
    out += '--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n' % (boundary, TEXT)
    for p in parts:
        out += '--%s\n%s' % (boundary, p)
    return out + '--%s--\n' % boundary


def attachment(ctype_name, disp_name, data=EXE, ctype='application/octet-stream'):
    p = 'Content-Type: %s' % ctype
    if ctype_name is not None:
        p += ';\n name=%s' % ctype_name
    p += '\nContent-Transfer-Encoding: base64\n'
    if disp_name is not None:
        p += 'Content-Disposition: attachment;\n %s\n' % disp_name
    return p + '\n' + b64(data) + '\n'


corpus = {}

# ---- banned ----
corpus['banned/exe_plain.eml'] = mixed('Invoice 4711', '----=_Part_1_100', [
    attachment('"setup.exe"', 'filename="setup.exe"')])
corpus['banned/rfc2231_encoded.eml'] = mixed('Invoice encoded', 'b2231', [
    attachment(None, "filename*=utf-8''inv%6Fice.exe")])
corpus['banned/rfc2231_continued.eml'] = mixed('Rechnung Maerz', 'b2231c', [
    attachment(None, "filename*1*=%2Eexe;\n filename*0*=utf-8'de'Rechnung%20M%C3%A4rz")])
corpus['banned/rfc2047_b.eml'] = mixed('Ueberweisung', 'b2047', [
    attachment('"=?UTF-8?B?w5xiZXJ3ZWlzdW5nLmV4ZQ==?="', 'filename="=?UTF-8?B?w5xiZXJ3ZWlzdW5nLmV4ZQ==?="')])
corpus['banned/rfc2047_q.eml'] = mixed('Rechnung 2024', 'b2047q', [
    attachment(None, 'filename="=?iso-8859-1?Q?Rechnung=5F2024?=\n =?iso-8859-1?Q?=2Escr?="')])
uu = ('begin 644 payment.exe\n'
      'M35J0``,````$````__\\``+@`````````0```````````````````````````\n'
      '`\nend\n')
corpus['banned/uuencode.eml'] = head('payment', extra='') + (
    '\nHi,\n\nthe payment tool is below, run it to confirm.\n\n' + uu + '\nBye\n')
corpus['banned/yenc.eml'] = head('update') + (
    '\nUpdate attached.\n\n=ybegin line=128 size=10 name=update.exe\nabcdefghij\n=yend size=10\n')
corpus['banned/zip_evil.eml'] = mixed('Documents', 'bzip', [
    attachment('"documents.zip"', 'filename="documents.zip"',
               mkzip([('readme.txt', 'Open the program to see your documents.\n'),
                      ('evil.exe', EXE)]), ctype='application/zip')])
corpus['banned/zip_sniffed.eml'] = mixed('Data export', 'bsniff', [
    attachment('"export.dat"', 'filename="export.dat"',
               mkzip([('export/report.csv', 'a,b,c\n1,2,3\n'), ('export/tool.js', 'WScript.Echo(1);\n')]))])
corpus['banned/zip_unicode_path.eml'] = mixed('Archive', 'buni', [
    attachment('"archive.zip"', 'filename="archive.zip"',
               mkzip([('safe.txt', 'hello\n')], {'safe.txt': 'safe.vbs'}), ctype='application/zip')])
corpus['banned/zip_corrupt_cdir.eml'] = mixed('Broken archive', 'bcorr', [
    attachment('"broken.zip"', 'filename="broken.zip"',
               corrupt_cdir(mkzip([('notes.txt', 'x\n'), ('evil.exe', EXE)])), ctype='application/zip')])
corpus['banned/double_ext.eml'] = mixed('Invoice PDF', 'bdouble', [
    attachment('"invoice.pdf.exe"', 'filename="invoice.pdf.exe"')])
corpus['banned/trailing_dot.eml'] = mixed('Invoice dot', 'bdot', [
    attachment('"invoice.exe."', 'filename="invoice.exe."')])
corpus['banned/trailing_space.eml'] = mixed('Invoice space', 'bspace', [
    attachment('"invoice.exe "', 'filename="invoice.exe "')])
corpus['banned/upper_exe.eml'] = mixed('Setup', 'bupper', [
    attachment('"SETUP.EXE"', 'filename="SETUP.EXE"')])
corpus['banned/path_name.eml'] = mixed('Script', 'bpath', [
    attachment(None, 'filename="../../run.cmd"', data=b'@echo off\r\n')])
corpus['banned/ctype_name_only.eml'] = mixed('Tool', 'bname', [
    attachment('setup.com', None, ctype='application/x-msdownload')])
corpus['banned/rfc2231_nul.eml'] = mixed('Notes', 'bnul', [
    attachment(None, "filename*=utf-8''notes.exe%00.txt")])
corpus['banned/no_semicolon.eml'] = mixed('Receipt', 'bsemi', [
    attachment(None, 'filename="receipt.pif"').replace('attachment;', 'attachment')])

inner_mixed = ('Content-Type: multipart/mixed; boundary="inner-mixed"\n\n'
               '--inner-mixed\nContent-Type: text/plain\n\nSee the attached script.\n'
               '--inner-mixed\n' + attachment('"report.bat"', 'filename="report.bat"', data=b'@echo off\r\n')
               + '--inner-mixed--\n')
corpus['banned/nested_alternative.eml'] = head('Report', 'multipart/alternative; boundary="outer-alt"') + (
    '\n--outer-alt\nContent-Type: text/plain; charset=us-ascii\n\nReport attached.\n\n'
    '--outer-alt\n' + inner_mixed + '\n--outer-alt--\n')

fwd = (head('Screensaver', 'multipart/mixed; boundary="fwd-inner"', frm='carol@example.org', inner=True) +
       '\n--fwd-inner\nContent-Type: text/plain\n\nNice screensaver!\n\n'
       '--fwd-inner\n' + attachment('"screensaver.scr"', 'filename="screensaver.scr"') +
       '--fwd-inner--\n')
corpus['banned/rfc822_scr.eml'] = mixed('Fwd: Screensaver', 'fwd-outer', [
    'Content-Type: message/rfc822\nContent-Disposition: inline\n\n' + fwd + '\n'])

# same boundary reused inside: the inner parts are still walked
corpus['banned/same_boundary.eml'] = head('Same', 'multipart/mixed; boundary="same"') + (
    '\n--same\nContent-Type: multipart/mixed; boundary="same"\n\n'
    '--same\nContent-Type: text/plain\n\ntext\n'
    '--same\n' + attachment('"x.exe"', 'filename="x.exe"') +
    '--same--\n--same--\n')

crlf = mixed('Invoice CRLF', 'bcrlf', [attachment('"setup.exe"', 'filename="setup.exe"')])
corpus['banned/crlf_exe.eml'] = crlf.replace('\n', '\r\n')
unterminated_exe = mixed('Late', 'blate', [attachment('"late.exe"', 'filename="late.exe"')])
corpus['banned/unterminated_exe.eml'] = unterminated_exe[:unterminated_exe.rindex('--blate--')][:-40]

# ---- clean ----
corpus['clean/plain_text.eml'] = head('Lunch on Friday', 'text/plain; charset=us-ascii',
                                      extra='Content-Transfer-Encoding: 7bit\n') + (
    '\nHi Bob,\n\nare we still on for lunch on Friday? The usual place at 12:30.\n'
    'I will bring the setup.exe notes we talked about (just kidding).\n\nAnna\n')
corpus['clean/html_alternative.eml'] = head('Newsletter March', 'multipart/alternative; boundary="alt-1"') + (
    '\n--alt-1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n'
    'Our March newsletter =E2=80=93 read it online.\n\n'
    '--alt-1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n'
    '<html><body><p>Our March newsletter =E2=80=93 <a href=3D"https://example.net/n">read it=\n online</a>.</p></body></html>\n'
    '\n--alt-1--\n')
corpus['clean/pdf_attachment.eml'] = mixed('Invoice 4712', 'pdf-1', [
    attachment('"invoice-4712.pdf"', 'filename="invoice-4712.pdf"', data=PDF, ctype='application/pdf')])
corpus['clean/inline_image.eml'] = head('Logo', 'multipart/related; boundary="rel-1"; type="text/html"') + (
    '\n--rel-1\nContent-Type: text/html; charset=us-ascii\n\n<p>Our new logo: <img src="cid:logo@example.net"></p>\n'
    '--rel-1\nContent-Type: image/png; name="logo.png"\nContent-Transfer-Encoding: base64\n'
    'Content-ID: <logo@example.net>\nContent-Disposition: inline; filename="logo.png"\n\n' + b64(PNG) +
    '--rel-1--\n')
fwd_docx = (head('Minutes', 'multipart/mixed; boundary="docx-inner"', frm='dave@example.org', inner=True) +
            '\n--docx-inner\nContent-Type: text/plain\n\nMinutes attached.\n\n'
            '--docx-inner\n' + attachment(
                '"minutes.docx"', 'filename="minutes.docx"', data=DOCX,
                ctype='application/vnd.openxmlformats-officedocument.wordprocessingml.document') +
            '--docx-inner--\n')
corpus['clean/forwarded_docx.eml'] = mixed('Fwd: Minutes', 'fwd-docx', [
    'Content-Type: message/rfc822\n\n' + fwd_docx + '\n'])
corpus['clean/digest.eml'] = head('list digest, Vol 12, Issue 3', 'multipart/mixed; boundary="digest-outer"') + (
    '\n--digest-outer\nContent-Type: text/plain\n\nToday\'s topics:\n  1. meeting\n  2. agenda\n\n'
    '--digest-outer\nContent-Type: multipart/digest; boundary="digest-inner"\n\n'
    '--digest-inner\n\nFrom: eve@example.org\nSubject: meeting\n\nSee you at 10.\n\n'
    '--digest-inner\n\nFrom: frank@example.org\nSubject: agenda\nMIME-Version: 1.0\n'
    'Content-Type: multipart/mixed; boundary="agenda"\n\n--agenda\nContent-Type: text/plain\n\nAgenda attached.\n'
    '--agenda\nContent-Type: text/plain; name="agenda.txt"\nContent-Disposition: attachment; filename="agenda.txt"\n\n'
    '1. welcome\n2. budget\n--agenda--\n\n--digest-inner--\n\n--digest-outer--\n')
corpus['clean/no_mime.eml'] = ('Received: (qmail 1 invoked from network); 3 Mar 2025 10:15:02 -0000\n'
                               'From: grace@example.org\nTo: bob@example.com\nSubject: old style\n\n'
                               'A message from an old mailer, no MIME at all.\n'
                               '--\nbegin at nine, as usual\n')
corpus['clean/exe_pdf.eml'] = mixed('Invoice exe pdf', 'exepdf', [
    attachment('"invoice.exe.pdf"', 'filename="invoice.exe.pdf"', data=PDF, ctype='application/pdf')])
corpus['clean/zip_txt.eml'] = mixed('Notes zipped', 'ziptxt', [
    attachment('"notes.zip"', 'filename="notes.zip"',
               mkzip([('notes.txt', 'Some notes.\n'), ('more/notes2.txt', 'More notes.\n')]),
               ctype='application/zip')])
corpus['clean/signed.eml'] = head('Signed', 'multipart/signed; micalg=pgp-sha256;\n protocol="application/pgp-signature"; boundary="sig"') + (
    '\n--sig\nContent-Type: text/plain\n\nSigned text.\n\n--sig\nContent-Type: application/pgp-signature; name="signature.asc"\n'
    'Content-Disposition: attachment; filename="signature.asc"\n\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n\n--sig--\n')

# ---- limit ----
t = mixed('Truncated', 'trunc', [attachment('"setup.txt"', 'filename="setup.txt"')])
corpus['limit/truncated_header.eml'] = t[:t.index('Content-Type: multipart') + 34]
u = mixed('Unterminated', 'unterm', [attachment('"report.pdf"', 'filename="report.pdf"', data=PDF * 4,
                                                ctype='application/pdf')])
corpus['limit/unterminated.eml'] = u[:u.rindex('--unterm--') - 100]
bomb = head('Bomb', 'multipart/mixed; boundary="lvl0"') + '\n'
for i in range(1, 50):
    bomb += '--lvl%d\nContent-Type: multipart/mixed; boundary="lvl%d"\n\n' % (i - 1, i)
bomb += '--lvl49\n' + attachment('"deep.exe"', 'filename="deep.exe"')
for i in range(49, -1, -1):
    bomb += '--lvl%d--\n' % i
corpus['limit/depth_bomb.eml'] = bomb
corpus['limit/zip_corrupt.eml'] = mixed('Broken notes', 'zcorr', [
    attachment('"data.zip"', 'filename="data.zip"', corrupt_cdir(mkzip([('readme.txt', 'read me\n')])),
               ctype='application/zip')])
# a 10 KB name: once a limit, now read whole (the header buffer keeps 16 KiB,
# then head and tail): banned; tests/scan/test_scan_attach.c says so
corpus['limit/long_header.eml'] = mixed('Long name', 'longh', [
    attachment(None, 'filename="%s.exe"' % ('a' * 10000))])
corpus['limit/empty_boundary.eml'] = head('Empty boundary', 'multipart/mixed; boundary=""') + (
    '\n--\nContent-Type: text/plain\n\ntext\n--\n----\n')

for name, text in corpus.items():
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(text.encode('latin-1') if isinstance(text, str) else text)
# binary garbage: NULs, control bytes, few line ends
with open(os.path.join(HERE, 'limit/garbage.eml'), 'wb') as f:
    f.write(b'Received: (qmail 1 invoked from network); 3 Mar 2025 10:15:02 -0000\n' +
            bytes((i * 131 + 7) % 256 for i in range(6000)))
