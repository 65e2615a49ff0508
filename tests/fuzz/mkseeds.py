#!/usr/bin/env python3
"""mkseeds.py - writes seeds/zip/*, seeds/param/*, seeds/embed/*: the starting
inputs of fuzz_zip, fuzz_param and fuzz_embed.

Run by hand when they change; the fuzz targets only read the committed files.
Each seed is one selector byte (0: nothing came before the bytes held) and an
archive: plain, with Info-ZIP Unicode paths and a comment, zip64 records, and
a self-extractor style prefix.
"""
import io
import os
import struct
import zipfile
import zlib

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'seeds', 'zip')
STAMP = (2025, 3, 3, 11, 15, 0)


def mkzip(members, comment=b'', method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', method) as z:
        for name, data, unicode in members:
            zi = zipfile.ZipInfo(name, STAMP)
            zi.compress_type = method
            if unicode:
                u = unicode.encode()
                zi.extra = struct.pack('<HHBI', 0x7075, 5 + len(u), 1, zlib.crc32(name.encode())) + u
            z.writestr(zi, data)
        z.comment = comment
    return buf.getvalue()


def zip64(data):
    """Move the EOCD's figures into zip64 records, as large archives have them."""
    e = data.rindex(b'PK\x05\x06')
    n, size, off = struct.unpack('<HII', data[e + 10:e + 20])
    rec = struct.pack('<4sQHHIIQQQQ', b'PK\x06\x06', 44, 45, 45, 0, 0, n, n, size, off)
    loc = struct.pack('<4sIQI', b'PK\x06\x07', 0, e, 1)
    eocd = struct.pack('<4sHHHHIIH', b'PK\x05\x06', 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    return data[:e] + rec + loc + eocd


two = [('readme.txt', 'read me\n', None), ('bin/evil.exe', 'MZ', None)]
seeds = {
    'plain.zip': mkzip(two),
    'deflated.zip': mkzip(two, method=zipfile.ZIP_DEFLATED),
    'unicode.zip': mkzip([('safe.txt', 'x', 'safe.vbs')], comment=b'a comment'),
    'zip64.zip': zip64(mkzip(two)),
    'sfx.zip': b'MZ self-extractor stub\n' * 3 + mkzip(two),
}
os.makedirs(HERE, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(b'\0' + data)

# seeds/param: one selector byte (0: filename, decoded; see fuzz_param.c) and
# a Content-Disposition value
PARAM = os.path.join(os.path.dirname(HERE), 'param')
params = {
    'quoted': b'\x04attachment; filename="a b.exe"',
    'rfc2047_unpadded': b'\x04attachment; filename="=?UTF-8?B?ZXZpbC5leGU?="',
    'rfc2047_q_utf7': b'\x04attachment; filename="=?UTF-7?Q?evil+AC4-exe?="',
    'rfc2231_sections': b'\x04attachment; ' + b'; '.join(b'filename*%d*=%%41' % i for i in range(80)),
    'rfc2231_utf7': b"\x04attachment; filename*=utf-7''tool%2BAC4-scr",
    'rfc2231_utf16': b"\x04attachment; filename*=utf-16le''e%00v%00.%00e%00x%00e%00",
    'boundary': b'\x02multipart/mixed; boundary="----=_Part_1"; x=(comment) y',
}
os.makedirs(PARAM, exist_ok=True)
for name, data in params.items():
    with open(os.path.join(PARAM, name), 'wb') as f:
        f.write(data)

# seeds/embed: one selector byte (low 2 bits: 0 TNEF, 1 tar, 2 gzip; the
# rest a piece size) and the stream, made by the evasion corpus generator
import importlib.util  # noqa: E402
import tarfile  # noqa: E402
spec = importlib.util.spec_from_file_location(
    'mkevasion', os.path.join(os.path.dirname(HERE), '..', '..', 'scan', 'evasion', 'mkevasion.py'))
ev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ev)
EMBED = os.path.join(os.path.dirname(HERE), 'embed')
embed = {
    'tnef': bytes([0 | 7 << 2]) + ev.tnef([('notes.txt', b'x' * 40), ('run.exe', ev.EXE)]),
    'tar_pax': bytes([1 | 60 << 2]) + ev.mktar([('d/' + 'n' * 150 + '.exe', ev.EXE)], fmt=tarfile.PAX_FORMAT),
    'tar_gnu': bytes([1 | 3 << 2]) + ev.mktar([('d/' + 'g' * 150 + '.scr', ev.EXE)], fmt=tarfile.GNU_FORMAT),
    'gzip': bytes([2]) + ev.mkgzip('invoice.exe', ev.EXE),
}
os.makedirs(EMBED, exist_ok=True)
for name, data in embed.items():
    with open(os.path.join(EMBED, name), 'wb') as f:
        f.write(data)
