#!/usr/bin/env python3
"""mkseeds.py - writes seeds/zip/*, the starting inputs of fuzz_zip.

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
