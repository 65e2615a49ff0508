#!/usr/bin/env python3
"""mkevasion.py - writes the evasion corpus: messages that hide a banned name
or hit a scanner limit, one class of evasion each, several variants per class.

Usage: mkevasion.py OUTDIR

Writes OUTDIR/<name>.eml and OUTDIR/MANIFEST, one line per message:

    <name> <merged> <walker> <clamav> <what>

merged:  banned | limit | clean - what the scan must end in with both
         scanners (clamav,attach) configured, banned names applied by both;
walker:  the attach backend's verdict alone, or - (not asserted: the walker
         does not open that container; libclamav does);
clamav:  the clamav backend's verdict alone (banned list applied to what
         libclamav unpacks; the names of MIME parts are the walker's), or -
         (not asserted: libclamav does not name it; the walker does);
what:    the class, in words.

and OUTDIR/ENCRYPTED, for the password-protected archives (7z needed):

    <name> <merged> <merged-with-encrypted-limit> <what>

the verdict with the default SLUICE_ENCRYPTED=pass, and with =limit.

Run by the tests at test time (tests/scan/test_scan_evasion.c,
tests/integration/test_evasion.sh); nothing it writes is committed.  Uses
python3's standard library and these programs (services/install-deps
installs them): 7z (p7zip-full), gcab, xorriso, genisoimage, arj, cpio.  Without one,
its messages are left out, stderr says so, and MANIFEST (or ENCRYPTED) has
a "# missing" line for each message and program: the tests fail on it.
The lzh, rar and BinHex 4.0 files are written here (Debian main has no
creator for the first two; Python has no binhex module any more).
Every message is deterministic (fixed dates, fixed archive timestamps) but
the two ISO/UDF images genisoimage writes.
"""
import base64
import binascii
import bz2
import gzip
import io
import lzma
import os
import quopri
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

STAMP = (2025, 3, 3, 11, 15, 0)
EXE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00' + bytes(range(64)) * 4
TXT = b'Minutes of the meeting: budget approved, next meeting on Friday.\n' * 4

out_dir = None
manifest = []


def head(subject, ctype=None, extra='', inner=False):
    h = '' if inner else 'Received: (qmail 1 invoked from network); 3 Mar 2025 10:15:02 -0000\n'
    h += ('From: "Accounts" <accounts@example.net>\nTo: bob@example.com\nSubject: %s\n'
          'Date: Mon, 3 Mar 2025 11:15:00 +0100\nMessage-ID: <%08x@example.net>\n'
          % (subject, zlib.crc32(subject.encode())))
    if ctype:
        h += 'MIME-Version: 1.0\nContent-Type: %s\n' % ctype
    return h + extra


def b64(data):
    s = base64.b64encode(data).decode()
    return '\n'.join(s[i:i + 76] for i in range(0, len(s), 76)) + '\n'


def qp(data):
    return quopri.encodestring(data).decode('latin-1')


def uu(name, data, mode='644', sep=' '):
    """A uuencoded file with its begin line; mode and separator as given."""
    lines = ['begin %s%s%s' % (mode, sep, name)]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45]).decode().rstrip('\n'))
    return '\n'.join(lines) + '\n`\nend\n'


def mixed(subject, parts, boundary='b-outer', extra=''):
    out = head(subject, 'multipart/mixed; boundary="%s"' % boundary, extra)
    out += '\nThis is a multi-part message in MIME format.\n\n'
    out += '--%s\nContent-Type: text/plain; charset=utf-8\n\nDocuments attached.\n\n' % boundary
    for p in parts:
        out += '--%s\n%s\n' % (boundary, p)
    return out + '--%s--\n' % boundary


def part(data, ctype='application/octet-stream', name=None, cte='base64', extra=''):
    p = 'Content-Type: %s' % ctype
    if name is not None:
        p += '; name="%s"' % name
    p += '\n'
    if cte:
        p += 'Content-Transfer-Encoding: %s\n' % cte
    if name is not None:
        p += 'Content-Disposition: attachment; filename="%s"\n' % name
    p += extra + '\n'
    if cte == 'base64':
        return p + b64(data)
    if cte == 'quoted-printable':
        return p + qp(data)
    if cte in ('x-uuencode', 'x-uue', 'uuencode'):
        return p + uu(name or 'file', data)
    return p + data.decode('latin-1')


def mkzip(members, method=zipfile.ZIP_DEFLATED, comment=b''):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', method) as z:
        for name, data in members:
            zi = zipfile.ZipInfo(name, STAMP)
            zi.compress_type = method
            z.writestr(zi, data)
        z.comment = comment
    return buf.getvalue()


def mktar(members, mode='w', fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=fmt) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1741000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def mkgzip(name, data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode='wb', fileobj=buf, mtime=1741000000) as g:
        g.write(data)
    return buf.getvalue()


def mk7z(members, extra_args=(), name='a.7z'):
    """A 7z archive made by the 7z program, or None without it."""
    seven = shutil.which('7z') or shutil.which('7za') or need('7zr', 'p7zip-full')
    if not seven:
        return None
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'src')
        for name, data in members:
            p = os.path.join(src, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, 'wb') as f:
                f.write(data)
            os.utime(p, (1741000000, 1741000000))
        arc = os.path.join(d, name)
        subprocess.run([seven, 'a', '-bd', '-y', *extra_args, arc] + [n.split('/')[0] for n, _ in members],
                       cwd=src, check=True, stdout=subprocess.DEVNULL)
        with open(arc, 'rb') as f:
            return f.read()


def tnef(attachments):
    """A minimal TNEF stream (MS-OXTNEF): per attachment attAttachRendData,
    attAttachTitle (its file name) and attAttachData."""
    def attr(level, aid, data):
        return struct.pack('<BII', level, aid, len(data)) + data + struct.pack('<H', sum(data) & 0xffff)
    s = struct.pack('<IH', 0x223E9F78, 0x0001)
    s += attr(1, 0x00089006, struct.pack('<I', 0x00010000))  # attTnefVersion
    s += attr(1, 0x00078008, b'IPM.Microsoft Mail.Note\0')  # attMessageClass
    for name, data in attachments:
        s += attr(2, 0x00069002, struct.pack('<HIIHH', 1, 0xffffffff, 0, 0, 0))  # attAttachRendData
        s += attr(2, 0x00018010, name.encode() + b'\0')  # attAttachTitle
        s += attr(2, 0x0006800F, data)  # attAttachData
    return s



missing = {}   # tool -> the Debian package that has it, for every tool not found


def need(tool, package):
    """The path of tool, or None: then the cases that need it are left out,
    the MANIFEST says so on a "# missing" line and the tests fail on it."""
    path = shutil.which(tool)
    if not path and tool not in missing:
        missing[tool] = package
        sys.stderr.write('mkevasion.py: no %s program (Debian package %s): its cases are not written\n'
                         % (tool, package))
    return path


def mkfiles(tool, package, members, argv, out='out'):
    """An archive made by an external program from members (name, data)
    written into a temp dir with fixed timestamps: argv's '@OUT' is the
    archive's path, '@FILES' the member names; None without the program."""
    prog = need(tool, package)
    if not prog:
        return None
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'src')
        os.makedirs(src)
        for name, data in members:
            p = os.path.join(src, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, 'wb') as f:
                f.write(data)
            os.utime(p, (1741000000, 1741000000))
        arc = os.path.join(d, out)
        args = []
        for a in argv:
            if a == '@FILES':
                args += [n for n, _ in members]
            else:
                args.append(a.replace('@OUT', arc))
        env = dict(os.environ, SOURCE_DATE_EPOCH='1741000000', TZ='UTC')
        subprocess.run([prog] + args, cwd=src, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env)
        with open(arc, 'rb') as f:
            return f.read()


def mkcab(members):
    """A Microsoft cabinet (MSZIP) made by gcab."""
    return mkfiles('gcab', 'gcab', members, ['-c', '-z', '@OUT', '@FILES'], 'out.cab')


def mkiso(members):
    """An ISO 9660 image with Rock Ridge and Joliet names, made by xorriso."""
    return mkfiles('xorriso', 'xorriso', members,
                   ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'DOCS', '-o', '@OUT', '.'], 'out.iso')


def mkudf(members):
    """An ISO 9660 image with a UDF bridge (what Windows reads first), Rock
    Ridge and Joliet names, made by genisoimage (its dates are the build
    time's: this image alone is not the same from run to run)."""
    return mkfiles('genisoimage', 'genisoimage', members,
                   ['-quiet', '-udf', '-R', '-J', '-V', 'DOCS', '-o', '@OUT', '.'], 'out.iso')


def mkarj(members):
    """An ARJ archive made by arj."""
    return mkfiles('arj', 'arj', members, ['a', '-y', '-i', '@OUT', '@FILES'], 'out.arj')


def mkcpio(members, fmt='newc'):
    """A cpio archive (newc or odc) made by cpio from the names on its stdin."""
    prog = need('cpio', 'cpio')
    if not prog:
        return None
    with tempfile.TemporaryDirectory() as d:
        for name, data in members:
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, 'wb') as f:
                f.write(data)
            os.utime(p, (1741000000, 1741000000))
        r = subprocess.run([prog, '-o', '--quiet', '-H', fmt, '--owner=0:0'], cwd=d, check=True,
                           input=''.join(n + '\n' for n, _ in members).encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        return r.stdout


def crc16_arc(data):
    """CRC-16/ARC (LHA's member checksum)."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def mklzh(members):
    """An LHA archive with level-0 headers and stored (-lh0-) members,
    written here: Debian main has no LHA creator but a Java one."""
    out = b''
    for name, data in members:
        nm = name.encode()
        body = (b'-lh0-' + struct.pack('<IIHHBB', len(data), len(data), 0x5960, 0x5a63, 0x20, 0) +
                struct.pack('B', len(nm)) + nm + struct.pack('<H', crc16_arc(data)))
        out += struct.pack('BB', len(body), sum(body) & 0xff) + body + data
    return out + b'\0'


def mklzh1(members):
    """An LHA archive with level-1 headers: each member's base header names
    it "note.txt", its extended filename header (type 0x01, which wins
    for every LHA reader) gives the real name."""
    out = b''
    for name, data in members:
        ext = b'\x01' + name.encode()
        exth = struct.pack('<H', len(ext) + 2) + ext
        base = (b'-lh0-' + struct.pack('<IIHHBB', len(data) + len(exth), len(data), 0x5960, 0x5a63, 0x20, 1) +
                struct.pack('B', 8) + b'note.txt' + struct.pack('<H', crc16_arc(data)) + b'U')
        body = base + struct.pack('<H', len(exth))
        out += struct.pack('BB', len(body), sum(body) & 0xff) + body + exth[2:] + struct.pack('<H', 0) + data
    return out + b'\0'


def mkrar(members):
    """A RAR 1.5-4.x archive with stored members, written here from the
    format's description: Debian main has no RAR creator (rar is non-free,
    unrar-free only extracts)."""
    def block(htype, flags, rest, add=b''):
        h = struct.pack('<BHH', htype, flags, 7 + len(rest)) + rest
        return struct.pack('<H', zlib.crc32(h) & 0xffff) + h + add
    out = b'Rar!\x1a\x07\x00' + block(0x73, 0, bytes(6))
    for name, data in members:
        nm = name.encode()
        rest = struct.pack('<IIBIIBBHI', len(data), len(data), 3, zlib.crc32(data), 0x5a635960, 20, 0x30,
                           len(nm), 0o100644 << 0) + nm
        out += block(0x74, 0x8000, rest, data)
    return out + block(0x7b, 0x4000, b'')


BINHEX_ALPHABET = b'!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr'


def crc_binhex(data):
    """BinHex 4.0's CRC: CCITT polynomial 0x1021, initial 0 (XMODEM)."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xffff if crc & 0x8000 else (crc << 1) & 0xffff
    return crc


def binhex(name, data, rsrc=b''):
    """A BinHex 4.0 file: header (name, type, creator, flags, fork lengths),
    data fork and resource fork each with its CRC; run-length coded (0x90
    escapes itself as 0x90 0x00, a run of 4 or more becomes byte 0x90 count);
    six bits a character in the BinHex alphabet, 64 to a line, between colons."""
    nm = name.encode()
    hdr = struct.pack('B', len(nm)) + nm + b'\0' + b'APPL' + b'????' + struct.pack('>HII', 0, len(data), len(rsrc))
    raw = hdr + struct.pack('>H', crc_binhex(hdr))
    raw += data + struct.pack('>H', crc_binhex(data)) + rsrc + struct.pack('>H', crc_binhex(rsrc))
    rle, i = bytearray(), 0
    while i < len(raw):
        b, n = raw[i], 1
        while i + n < len(raw) and raw[i + n] == b and n < 255:
            n += 1
        rle += b'\x90\x00' if b == 0x90 else bytes([b])
        if n >= 4 and b != 0x90:
            rle += bytes([0x90, n])
        else:
            n = 1
        i += n
    chars = bytearray()
    for j in range(0, len(rle), 3):
        g = rle[j:j + 3]
        v = int.from_bytes(g + bytes(3 - len(g)), 'big')
        k = (len(g) * 8 + 5) // 6
        chars += bytes(BINHEX_ALPHABET[(v >> (18 - 6 * m)) & 63] for m in range(k))
    text = b':' + bytes(chars) + b':'
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return '(This file must be converted with BinHex 4.0)\n\n' + b'\n'.join(lines).decode() + '\n'


encrypted = []


def emit_enc(name, merged, merged_limit, what, data, fname):
    if data is None:
        encrypted.append('# missing %s: no 7z program' % name)
        return
    with open(os.path.join(out_dir, name + '.eml'), 'wb') as f:
        f.write(mixed('enc', [part(data, 'application/octet-stream', fname)]).encode('latin-1'))
    encrypted.append('%s %s %s %s' % (name, merged, merged_limit, what))


def emit(name, merged, walker, clamav, what, text):
    if text is None:
        manifest.append('# missing %s: %s' % (name, what))
        return
    with open(os.path.join(out_dir, name + '.eml'), 'wb') as f:
        f.write(text.encode('latin-1') if isinstance(text, str) else text)
    manifest.append('%s %s %s %s %s' % (name, merged, walker, clamav, what))


def nested_multipart(n, leaf):
    """leaf inside n multiparts nested in the message's own multipart."""
    body = ''
    for i in range(1, n):
        body += '--lvl%d\nContent-Type: multipart/mixed; boundary="lvl%d"\n\n' % (i - 1, i)
    body += '--lvl%d\n%s\n' % (n - 1, leaf)
    for i in range(n - 1, -1, -1):
        body += '--lvl%d--\n' % i
    return head('nested %d' % n, 'multipart/mixed; boundary="lvl0"') + '\n' + body


def forwarded(n, leaf):
    """a message with leaf, forwarded as message/rfc822 n times."""
    msg = head('inner', 'multipart/mixed; boundary="f0"', inner=True) + '\n--f0\n' + leaf + '\n--f0--\n'
    for i in range(1, n + 1):
        msg = (head('Fwd %d' % i, 'multipart/mixed; boundary="f%d"' % i, inner=i < n) +
               '\n--f%d\nContent-Type: text/plain\n\nforwarded\n\n--f%d\nContent-Type: message/rfc822\n\n%s\n--f%d--\n'
               % (i, i, msg, i))
    return msg


def main():
    global out_dir
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    exe = part(EXE, name='setup.exe')
    zip_exe = mkzip([('readme.txt', TXT), ('invoice.exe', EXE)])
    B, L, C, N = 'banned', 'limit', 'clean', '-'

    # ---- 1. limits of the MIME structure: never clean ----
    # libclamav (MaxRecursion 17) reads 18 nested multiparts, 15 forwards
    for n in (16, 17, 18):
        emit('depth_multipart_%d' % n, B, B, N, 'exe under %d nested multiparts' % n, nested_multipart(n, exe))
    for n in (19, 25, 60):
        emit('depth_multipart_%d' % n, L, L, L, 'exe under %d nested multiparts' % n, nested_multipart(n, exe))
    for n in (4, 8, 15):
        emit('depth_rfc822_%d' % n, B, B, N, 'exe forwarded as message/rfc822 %d times' % n, forwarded(n, exe))
    # libclamav lists the name before it gives up on the depth: banned either way
    emit('depth_rfc822_16', B, B, N, 'exe forwarded 16 times', forwarded(16, exe))
    for n in (18, 30):
        emit('depth_rfc822_%d' % n, L, L, L, 'exe forwarded %d times' % n, forwarded(n, exe))
    for n in (10001, 12000):
        tiny = ''.join('--p\nContent-Type: text/plain\n\n.\n' for _ in range(n))
        emit('parts_%d' % n, B, B, N, 'exe after %d tiny parts' % n,
             head('parts', 'multipart/mixed; boundary="p"') + '\n' + tiny + '--p\n' + exe + '\n--p--\n')
    for size, where in ((9000, 'end'), (20000, 'end'), (60000, 'end'), (9000, 'start')):
        pad = '; x-pad="%s"' % ('A' * size)
        hdr = ('application/octet-stream%s; name="payload.exe"' % pad if where == 'end'
               else 'application/octet-stream; name="payload.exe"%s' % pad)
        emit('long_ctype_%d_%s' % (size, where), B, B, N,
             'name at the %s of a %d-byte Content-Type' % (where, size),
             mixed('long', ['Content-Type: %s\nContent-Transfer-Encoding: base64\n\n%s' % (hdr, b64(EXE))]))
    emit('long_filename_30000', B, B, N, 'a 30 KB file name ending in .exe',
         mixed('longname', [part(EXE, name='n' * 30000 + '.exe')]))
    folded = ';\n '.join('x%d="%s"' % (i, 'B' * 70) for i in range(200))
    emit('long_ctype_folded', B, B, N, 'name after 200 folded parameters',
         mixed('folded', ['Content-Type: application/octet-stream; %s;\n name="payload.exe"\n'
                          'Content-Transfer-Encoding: base64\n\n%s' % (folded, b64(EXE))]))
    mid = 'application/octet-stream; a="%s"; name="middle.exe"; b="%s"' % ('C' * 40000, 'D' * 40000)
    emit('long_ctype_middle', L, L, N, 'name in the middle of an 80 KB Content-Type',
         mixed('middle', ['Content-Type: %s\nContent-Transfer-Encoding: base64\n\n%s' % (mid, b64(TXT))]))
    for blen in (71, 201, 500, 998):
        emit('boundary_%d' % blen, B, B, N, 'exe under a %d-byte boundary' % blen,
             mixed('boundary', [exe], boundary='q' * blen))
    emit('boundary_1200', L, L, N, 'exe under a 1200-byte boundary', mixed('boundary', [exe], boundary='q' * 1200))

    # containers the walker cannot read whole: a limit unless a name is banned
    zt = mkzip([('readme.txt', TXT), ('notes.txt', TXT)])
    emit('zip_truncated', L, L, N, 'a zip cut in its middle (no central directory)',
         mixed('zcut', [part(zt[:len(zt) // 2], 'application/zip', 'docs.zip')]))
    cd = zt.rindex(b'PK\x01\x02')
    emit('zip_corrupt_cdir', L, L, N, 'a zip whose central directory is garbage',
         mixed('zcd', [part(zt[:cd] + b'XX' + zt[cd + 2:], 'application/zip', 'docs.zip')]))
    tn = tnef([('notes.txt', TXT)])
    emit('tnef_truncated', L, L, N, 'a TNEF stream cut inside its attachment title',
         mixed('tcut', [part(tn[:tn.index(b'notes.txt') + 3], 'application/ms-tnef', 'winmail.dat')]))

    # archives libclamav cannot open: a limit, never clean
    s7 = mk7z([('readme.txt', TXT), ('setup.exe', EXE)])
    emit('sevenz_truncated', L, N, L, 'a 7z cut in its middle', s7 and mixed('7zcut', [
        part(s7[:len(s7) // 2], 'application/x-7z-compressed', 'docs.7z')]))
    emit('sevenz_no_header', L, N, L, 'a 7z without its header (cut 30 bytes short)', s7 and mixed('7zhdr', [
        part(s7[:-30], 'application/x-7z-compressed', 'docs.7z')]))
    emit('sevenz_garbage', L, N, L, '7z signature, then garbage',
         mixed('7zg', [part(b'7z\xbc\xaf\x27\x1c' + bytes(200), 'application/octet-stream', 'docs.7z')]))
    gzt = mkgzip('notes.txt', TXT * 20)
    emit('gzip_truncated', L, N, L, 'a gzip cut after 40 bytes',
         mixed('gzcut', [part(gzt[:40], 'application/gzip', 'notes.gz')]))
    tt = mktar([('a.txt', TXT), ('b.exe', EXE)])
    emit('tar_truncated', L, L, L, 'a tar cut inside its first member (an exe after it)',
         mixed('tcut', [part(tt[:700], 'application/x-tar', 'docs.tar')]))

    # ---- 2. names inside what libclamav unpacks ----
    emit('zip_in_zip_deflated', B, N, B, 'zip inside a deflated zip',
         mixed('zz', [part(mkzip([('inner.zip', zip_exe)]), 'application/zip', 'docs.zip')]))
    emit('zip_in_zip_3', B, N, B, 'zip in a zip in a zip',
         mixed('zzz', [part(mkzip([('b.zip', mkzip([('c.zip', zip_exe)]))]), 'application/zip', 'a.zip')]))
    emit('zip_qp', B, B, B, 'zip sent quoted-printable',
         mixed('zqp', [part(zip_exe, 'application/zip', 'docs.zip', cte='quoted-printable')]))
    emit('zip_xuuencode', B, B, N, 'zip sent x-uuencode',
         mixed('zuu', [part(zip_exe, 'application/zip', 'docs.zip', cte='x-uuencode')]))
    emit('zip_binary', B, B, N, 'zip sent as 8bit',
         mixed('zbin', [part(mkzip([('a.txt', TXT), ('b.scr', EXE)], zipfile.ZIP_STORED), 'application/zip',
                             'docs.zip', cte='binary')]))
    emit('zip_uu_in_text', B, B, B, 'zip uuencoded inside a plain text body',
         head('uu zip') + '\nThe archive:\n\n' + uu('docs.zip', zip_exe) + '\nBye\n')
    emit('zip_uu_in_b64_text', B, B, N, 'zip uuencoded inside a base64 text part',
         mixed('uuzb64', [part(('Archive:\n\n' + uu('docs.zip', zip_exe)).encode('latin-1'), 'text/plain', None)]))
    emit('uu_in_b64_text', B, B, N, 'uuencoded exe inside a base64 text part',
         mixed('uub64', [part(('See below.\n\n' + uu('tool.exe', EXE)).encode(), 'text/plain', None)]))
    emit('uu_in_qp_text', B, B, N, 'uuencoded exe inside a quoted-printable text part',
         mixed('uuqp', [part(('See below.\n\n' + uu('tool.exe', EXE)).encode(), 'text/plain', None,
                             cte='quoted-printable')]))
    emit('yenc_in_b64_text', B, B, N, 'yEnc begin line inside a base64 text part',
         mixed('yb64', [part(b'Update:\n\n=ybegin line=128 size=10 name=update.exe\nabcdefghij\n=yend size=10\n',
                             'text/plain', None)]))
    inner = head('inner', 'multipart/mixed; boundary="in"', inner=True) + '\n--in\n' + exe + '\n--in--\n'
    emit('rfc822_b64', B, B, N, 'base64 message/rfc822 holding an exe',
         mixed('r64', [part(inner.encode(), 'message/rfc822', None)]))
    emit('rfc822_qp', B, B, N, 'quoted-printable message/rfc822 holding an exe',
         mixed('rqp', [part(inner.encode(), 'message/rfc822', None, cte='quoted-printable')]))
    emit('rfc822_b64_zip', B, B, B, 'base64 message/rfc822 holding a zip with an exe',
         mixed('r64z', [part((head('inner', 'multipart/mixed; boundary="in"', inner=True) + '\n--in\n' +
                              part(zip_exe, 'application/zip', 'docs.zip') + '\n--in--\n').encode(),
                             'message/rfc822', None)]))
    emit('tar_plain', B, B, B, 'exe in a tar',
         mixed('tar', [part(mktar([('docs/readme.txt', TXT), ('docs/run.exe', EXE)]), 'application/x-tar', 'docs.tar')]))
    emit('tar_gz', B, N, B, 'exe in a tar.gz',
         mixed('tgz', [part(gzip.compress(mktar([('run.exe', EXE)]), mtime=0), 'application/gzip', 'docs.tgz')]))
    emit('tar_bz2', B, N, B, 'exe in a tar.bz2',
         mixed('tbz', [part(bz2.compress(mktar([('run.exe', EXE)])), 'application/x-bzip2', 'docs.tar.bz2')]))
    emit('tar_xz', B, N, N, 'exe in a tar.xz',
         mixed('txz', [part(lzma.compress(mktar([('run.exe', EXE)])), 'application/x-xz', 'docs.tar.xz')]))
    emit('tar_pax_longname', B, B, B, 'exe with a long pax name in a tar',
         mixed('pax', [part(mktar([('d/' + 'n' * 150 + '.exe', EXE)], fmt=tarfile.PAX_FORMAT),
                            'application/x-tar', 'docs.tar')]))
    emit('gzip_name', B, B, B, 'gzip whose stored name is an exe',
         mixed('gz', [part(mkgzip('invoice.exe', EXE), 'application/gzip', 'invoice.gz')]))
    emit('gzip_name_path', B, B, B, 'gzip whose stored name is a path to a scr',
         mixed('gzp', [part(mkgzip('C:\\tmp\\saver.scr', EXE), 'application/gzip', 'data.gz')]))
    emit('tar_gnu_longname', B, B, B, 'exe with a GNU long name in a tar',
         mixed('gnu', [part(mktar([('d/' + 'g' * 150 + '.scr', EXE)], fmt=tarfile.GNU_FORMAT),
                            'application/x-tar', 'docs.tar')]))
    emit('gzip_in_zip', B, N, B, 'gzip with a stored exe name inside a zip',
         mixed('gzz', [part(mkzip([('data.gz', mkgzip('run.exe', EXE))]), 'application/zip', 'data.zip')]))
    emit('tnef_title', B, B, B, 'TNEF winmail.dat with an exe',
         mixed('tnef', [part(tnef([('invoice.exe', EXE)]), 'application/ms-tnef', 'winmail.dat')]))
    emit('tnef_second', B, B, B, 'TNEF winmail.dat, exe as its second attachment',
         mixed('tnef2', [part(tnef([('notes.txt', TXT), ('tool.scr', EXE)]), 'application/vnd.ms-tnef', 'winmail.dat')]))
    emit('tnef_in_zip', B, N, B, 'TNEF inside a zip',
         mixed('tnefz', [part(mkzip([('winmail.dat', tnef([('run.exe', EXE)]))]), 'application/zip', 'mail.zip')]))
    emit('sevenz_plain', B, N, B, 'exe in a 7z', (lambda a: a and mixed('7z', [
        part(a, 'application/x-7z-compressed', 'docs.7z')]))(mk7z([('readme.txt', TXT), ('setup.exe', EXE)])))
    emit('sevenz_dir', B, N, B, 'js in a folder of a 7z', (lambda a: a and mixed('7zd', [
        part(a, 'application/octet-stream', 'docs.bin')]))(mk7z([('d/e/tool.js', b'WScript.Echo(1);\n')])))
    emit('sevenz_in_zip', B, N, B, '7z inside a zip', (lambda a: a and mixed('7zz', [
        part(mkzip([('inner.7z', a)]), 'application/zip', 'docs.zip')]))(mk7z([('x.exe', EXE)])))

    # ---- 6. more containers: cab, ISO 9660, arj, cpio, lzh, rar, BinHex ----
    def att(data, ctype, fname, subject):
        return data and mixed(subject, [part(data, ctype, fname)])
    bad = [('readme.txt', TXT), ('evil.exe', EXE)]
    good = [('readme.txt', TXT), ('notes.txt', TXT)]
    emit('cab_exe', B, N, B, 'exe in a cab', att(mkcab(bad), 'application/vnd.ms-cab-compressed', 'docs.cab', 'cab'))
    emit('iso_exe', B, N, B, 'exe in an ISO 9660 image', att(mkiso(bad), 'application/x-iso9660-image', 'docs.iso', 'iso'))
    emit('arj_exe', B, N, B, 'exe in an arj', att(mkarj(bad), 'application/x-arj', 'docs.arj', 'arj'))
    emit('cpio_newc_exe', B, N, B, 'exe in a cpio (newc)', att(mkcpio(bad), 'application/x-cpio', 'docs.cpio', 'cpio'))
    emit('cpio_odc_exe', B, N, B, 'exe in a cpio (odc)', att(mkcpio(bad, 'odc'), 'application/x-cpio', 'docs.cpio', 'cpio'))
    emit('lzh_exe', B, N, B, 'exe in an lzh (-lh0-)', att(mklzh(bad), 'application/x-lzh-compressed', 'docs.lzh', 'lzh'))
    # Debian's libclamav is built without unrar: it tells a rar by its
    # signature but cannot list it, so a rar is a limit, clean or not
    emit('lzh_ext_name', B, N, B, 'exe named in an lzh level-1 extended header only',
         att(mklzh1([('evil.exe', EXE)]), 'application/x-lzh-compressed', 'docs.lzh', 'lzh1'))
    emit('rar_exe', L, N, L, 'exe in a rar (stored)', att(mkrar(bad), 'application/vnd.rar', 'docs.rar', 'rar'))
    # the same exe under three names: ISO 9660's (what libclamav lists),
    # Joliet's (what Windows shows) and Rock Ridge's (what Linux shows);
    # two of them made harmless, one left
    iso = mkiso(bad)
    if iso:
        j16 = lambda t: t.encode('utf-16-be')
        emit('iso_joliet_only', B, N, B, 'exe named only in the Joliet tree of an ISO image', att(
            iso.replace(b'EVIL.EXE;1', b'NOTE.TXT;1').replace(b'evil.exe', b'note.txt'),
            'application/x-iso9660-image', 'docs.iso', 'isoj'))
        emit('iso_rr_only', B, N, B, 'exe named only by Rock Ridge in an ISO image', att(
            iso.replace(b'EVIL.EXE;1', b'NOTE.TXT;1').replace(j16('evil.exe'), j16('note.txt')),
            'application/x-iso9660-image', 'docs.iso', 'isorr'))
    else:
        emit('iso_joliet_only', B, N, B, 'exe named only in the Joliet tree of an ISO image', None)
        emit('iso_rr_only', B, N, B, 'exe named only by Rock Ridge in an ISO image', None)
    udf = mkudf(bad)
    # nobody reads UDF names (libclamav 1.4 neither): an image with UDF is a
    # limit while names are banned, clean or not
    emit('udf_only', L, N, L, 'exe named only in the UDF tree of an ISO/UDF image', udf and att(
        udf.replace(b'EVIL.EXE;1', b'NOTE.TXT;1').replace(b'NM\r\x01\x00evil.exe', b'NM\r\x01\x00note.txt')
        .replace('evil.exe'.encode('utf-16-be'), 'note.txt'.encode('utf-16-be')),
        'application/x-iso9660-image', 'docs.iso', 'udf'))
    emit('clean_udf', L, C, L, 'ISO/UDF image of text files (UDF names not checked)', att(mkudf(good), 'application/x-iso9660-image',
                                                                  'notes.iso', 'cudf'))
    zbad = mkzip(bad)
    emit('zip_in_iso', B, N, B, 'zip with an exe inside an ISO 9660 image',
         att(mkiso([('docs.zip', zbad)]), 'application/octet-stream', 'docs.iso', 'ziso'))
    emit('zip_in_cab', B, N, B, 'zip with an exe inside a cab',
         att(mkcab([('docs.zip', zbad)]), 'application/octet-stream', 'docs.cab', 'zcab'))
    emit('binhex_part', B, B, N, 'BinHex 4.0 part (application/mac-binhex40) holding an exe',
         mixed('hqx', [part(binhex('evil.exe', EXE).encode(), 'application/mac-binhex40', 'docs.hqx', cte='7bit')]))
    emit('binhex_text', B, B, N, 'BinHex 4.0 block in a plain text body',
         head('hqx text') + '\nThe tool:\n\n' + binhex('tool.exe', EXE) + '\nBye\n')
    emit('binhex_b64_text', B, B, N, 'BinHex 4.0 block in a base64 text part',
         mixed('hqxb64', [part(('Tool:\n\n' + binhex('tool.exe', EXE)).encode(), 'text/plain', None)]))
    emit('binhex_zip', B, B, N, 'BinHex 4.0 part whose data fork is a zip with an exe',
         mixed('hqxzip', [part(binhex('docs.zip', zbad).encode(), 'application/mac-binhex40', 'docs.hqx', cte='7bit')]))
    emit('binhex_no_mark', B, B, N, 'application/mac-binhex40 part without its first line',
         mixed('hqxnm', [part(binhex('evil.exe', EXE).split('\n', 2)[2].encode(), 'application/mac-binhex40',
                              'docs.hqx', cte='7bit')]))
    emit('binhex_mark_then_uu', B, B, N, 'the BinHex first line, then a uuencoded exe',
         head('hqx uu') + '\n(This file must be converted with BinHex 4.0)\n\n' + uu('tool.exe', EXE) + '\nBye\n')
    hq = binhex('a-rather-long-name-for-a-tool.exe', EXE)
    emit('binhex_cut', L, L, N, 'BinHex 4.0 text cut inside its file name',
         head('hqx cut') + '\nThe tool:\n\n' + hq[:hq.index(':') + 20] + ':\n\nBye\n')
    emit('clean_cab', C, C, C, 'cab of text files', att(mkcab(good), 'application/vnd.ms-cab-compressed', 'notes.cab', 'ccab'))
    emit('clean_iso', C, C, C, 'ISO 9660 image of text files', att(mkiso(good), 'application/x-iso9660-image', 'notes.iso', 'ciso'))
    emit('clean_arj', C, C, C, 'arj of text files', att(mkarj(good), 'application/x-arj', 'notes.arj', 'carj'))
    emit('clean_cpio', C, C, C, 'cpio (newc) of text files', att(mkcpio(good), 'application/x-cpio', 'notes.cpio', 'ccpio'))
    emit('clean_lzh', C, C, C, 'lzh of text files', att(mklzh(good), 'application/x-lzh-compressed', 'notes.lzh', 'clzh'))
    emit('clean_rar', L, C, L, 'rar of text files (libclamav cannot open a rar)', att(mkrar(good), 'application/vnd.rar', 'notes.rar', 'crar'))
    zgood = mkzip(good)
    emit('clean_zip_in_iso', C, C, C, 'zip of text files inside an ISO 9660 image',
         att(mkiso([('notes.zip', zgood)]), 'application/octet-stream', 'notes.iso', 'cziso'))
    emit('clean_zip_in_cab', C, C, C, 'zip of text files inside a cab',
         att(mkcab([('notes.zip', zgood)]), 'application/octet-stream', 'notes.cab', 'czcab'))
    emit('clean_binhex', C, C, C, 'BinHex 4.0 part holding a text file',
         mixed('chqx', [part(binhex('notes.txt', TXT).encode(), 'application/mac-binhex40', 'notes.hqx', cte='7bit')]))
    emit('clean_binhex_text', C, C, C, 'BinHex 4.0 block of a text file in a text body',
         head('chqx text') + '\nNotes:\n\n' + binhex('notes.txt', TXT) + '\nBye\n')

    # ---- 3. decoding ----
    for word, nm in (('ZXZpbC5leGU', 'b64_unpadded_1'), ('ZXZpbDEuZXhl', 'b64_padded'),
                     ('ZXZpbDEyLmV4ZQ', 'b64_unpadded_2')):
        emit('rfc2047_' + nm, B, B, N, 'RFC 2047 base64 word ' + word,
             mixed('2047', [part(EXE, name='=?UTF-8?B?%s?=' % word)]))
    emit('rfc2047_split_unpadded', B, B, N, 'two unpadded base64 words',
         mixed('2047s', [part(EXE, name='=?UTF-8?B?ZXY?= =?UTF-8?B?aWwuZXhl?=')]))
    for n in (65, 100, 300):
        secs = ['filename*%d="%s"' % (i, 'a' if i < n - 1 else '.exe') for i in range(n)]
        emit('rfc2231_sections_%d' % n, B, B, N, 'name in %d RFC 2231 sections' % n,
             mixed('2231', ['Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n'
                            'Content-Disposition: attachment;\n ' + ';\n '.join(reversed(secs)) + '\n\n' + b64(EXE)]))
    for enc, nm in (('evil+AC4-exe', 'q_dot'), ('+AGUAdgBpAGwALgBlAHgAZQ-', 'q_all')):
        emit('utf7_2047_' + nm, B, B, N, 'RFC 2047 UTF-7 name ' + enc,
             mixed('utf7', [part(EXE, name='=?UTF-7?Q?%s?=' % enc.replace('=', '=3D'))]))
    emit('utf7_2047_b', B, B, N, 'RFC 2047 UTF-7 base64 word',
         mixed('utf7b', [part(EXE, name='=?utf-7?B?%s?=' % base64.b64encode(b'run+AC4-exe').decode())]))
    emit('utf7_2231', B, B, N, 'RFC 2231 UTF-7 name',
         mixed('utf72231', ['Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n'
                            "Content-Disposition: attachment; filename*=utf-7''tool%2BAC4-scr\n\n" + b64(EXE)]))
    for order in ('b64_last', 'b64_first'):
        ctes = ['7bit', 'base64'] if order == 'b64_last' else ['base64', '7bit']
        emit('two_cte_' + order, B, B, N, 'two Content-Transfer-Encoding fields, base64 ' + order[4:],
             mixed('cte', ['Content-Type: application/octet-stream; name="docs.dat"\n' +
                           ''.join('Content-Transfer-Encoding: %s\n' % c for c in ctes) + '\n' + b64(zip_exe)]))
    emit('two_boundaries', L, L, N, 'a multipart with two different boundary parameters',
         head('two b', 'multipart/mixed; boundary="first"; boundary="second"') +
         '\n--second\n' + exe + '\n--second--\n')
    emit('two_boundaries_same', B, B, N, 'a multipart with the same boundary twice',
         head('two b', 'multipart/mixed; boundary="same"; boundary=same') + '\n--same\n' + exe + '\n--same--\n')
    for n, frag in ((1, 'Content-Type: application/octet-stream; name="x.ex'), (2, 'e"\n\nTVo=\n')):
        emit('partial_%d' % n, L, L, N, 'message/partial %d of 2' % n,
             head('partial', 'message/partial; id="abc@example.net"; number=%d; total=2' % n) + '\n' + frag)
    emit('two_cte_conflict', L, L, N, 'base64 and quoted-printable on one part',
         mixed('cte2', ['Content-Type: application/octet-stream; name="docs.dat"\n'
                        'Content-Transfer-Encoding: quoted-printable\nContent-Transfer-Encoding: base64\n\n' +
                        b64(TXT)]))
    for mode, sep, nm in (('100644', ' ', 'mode6'), ('644', '  ', 'twospace'), ('0644', '\t', 'tab'),
                          ('755', ' ', 'mode755')):
        emit('begin_' + nm, B, B, N, 'uuencode begin line "begin %s%s"' % (mode, sep.replace('\t', '\\t')),
             head('uu') + '\nHere:\n\n' + uu('payment.exe', EXE, mode, sep) + '\nBye\n')
    cr = mixed('bare CR', [exe], boundary='bcr').replace('\n', '\r')
    emit('bare_cr', B, B, N, 'bare-CR line ends throughout', cr)
    emit('bare_cr_part', B, B, N, 'bare-CR line ends in the part headers',
         mixed('bare CR part', ['Content-Type: application/octet-stream; name="cr.exe"\r'
                                'Content-Transfer-Encoding: base64\r\r' + b64(EXE)], boundary='bcr2'))
    emit('bare_cr_uu', B, B, N, 'bare-CR line ends around a begin line',
         head('cr uu') + '\nHere:\r' + uu('payment.exe', EXE).replace('\n', '\r') + 'Bye\n')

    # ---- 4. clean look-alikes: none of this may be stopped ----
    emit('clean_zip', C, C, C, 'zip of text files',
         mixed('cz', [part(mkzip([('a.txt', TXT), ('b/c.txt', TXT)]), 'application/zip', 'notes.zip')]))
    emit('clean_tar_gz', C, C, C, 'tar.gz of text files',
         mixed('ctgz', [part(gzip.compress(mktar([('a.txt', TXT)]), mtime=0), 'application/gzip', 'a.tgz')]))
    emit('clean_gzip', C, C, C, 'gzip of a text file',
         mixed('cgz', [part(mkgzip('notes.txt', TXT), 'application/gzip', 'notes.txt.gz')]))
    emit('clean_tnef', C, C, C, 'TNEF with a text attachment',
         mixed('ctnef', [part(tnef([('notes.txt', TXT)]), 'application/ms-tnef', 'winmail.dat')]))
    emit('clean_7z', C, C, C, '7z of a text file', (lambda a: a and mixed('c7z', [
        part(a, 'application/x-7z-compressed', 'notes.7z')]))(mk7z([('notes.txt', TXT)])))
    emit('clean_nested_18', C, C, C, '18 nested multiparts, a text leaf',
         nested_multipart(18, part(TXT, 'text/plain', 'notes.txt')))
    emit('clean_forwarded_15', C, C, C, 'forwarded 15 times, a text leaf',
         forwarded(15, part(TXT, 'text/plain', 'notes.txt')))
    emit('clean_long_boundary', C, C, C, '998-byte boundary, text leaf',
         mixed('clb', [part(TXT, 'text/plain', 'notes.txt')], boundary='z' * 998))
    emit('clean_b64_text_begin', C, C, C, 'base64 text with a harmless begin line',
         mixed('cbt', [part(('Notes:\n\n' + uu('notes.txt', TXT)).encode(), 'text/plain', None)]))
    emit('clean_qp_text', C, C, C, 'quoted-printable text mentioning setup.exe',
         mixed('cqp', [part('Run setup.exe from the share =E2=80=93 see the wiki.\n'.encode(), 'text/plain',
                            None, cte='quoted-printable')]))
    emit('clean_utf7_name', C, C, C, 'a UTF-7 name of a text file',
         mixed('cu7', [part(TXT, 'text/plain', '=?UTF-7?Q?notes+AC4-txt?=')]))

    # ---- 5. encrypted archives: the admin's choice (SLUICE_ENCRYPTED) ----
    pw = ('-pSECRET',)
    emit_enc('enc_zip_txt', C, L, 'encrypted zip of a text file',
             mk7z([('notes.txt', TXT)], ('-tzip',) + pw, 'a.zip'), 'notes.zip')
    emit_enc('enc_zip_exe', B, B, 'encrypted zip with an exe: its name shows',
             mk7z([('run.exe', EXE)], ('-tzip',) + pw, 'a.zip'), 'docs.zip')
    emit_enc('enc_7z_txt', C, L, 'encrypted 7z of a text file', mk7z([('notes.txt', TXT)], pw), 'notes.7z')
    emit_enc('enc_7z_exe', B, B, 'encrypted 7z with an exe: its name shows',
             mk7z([('run.exe', EXE)], pw), 'docs.7z')
    # names encrypted too: nobody can tell what is inside, a limit either way
    emit_enc('enc_7z_hidden', L, L, 'encrypted 7z with encrypted names (an exe inside)',
             mk7z([('run.exe', EXE)], pw + ('-mhe=on',)), 'docs.7z')

    for tool, package in sorted(missing.items()):
        manifest.append('# missing program %s (Debian package %s): the cases above are not tested' % (tool, package))
    with open(os.path.join(out_dir, 'MANIFEST'), 'w') as f:
        f.write('\n'.join(manifest) + '\n')
    with open(os.path.join(out_dir, 'ENCRYPTED'), 'w') as f:
        f.write('\n'.join(encrypted) + '\n')


if __name__ == '__main__':
    main()
