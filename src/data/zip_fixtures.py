"""Zip archives for src/data/zip.test.ts, made by Python's own zipfile (the format's reference
writer in this project), from a folder of loose files:

    python zip_fixtures.py SRC_DIR OUT_DIR

SRC_DIR holds the files (paths relative to it become member names, e.g. subset0/x.mhd).
OUT_DIR gets stored.zip, deflated.zip, zip64.zip (Zip64 extras in the central directory, the
Zip64 end-of-central-directory record and its locator, as a >4 GB subset0.zip has; made small
by lowering zipfile's limits) and descriptors.zip (written to a stream that cannot seek, so
every member has a data descriptor), flat.zip (no folder: members at the top).
"""
import os
import sys
import zipfile


def members(src):
    for root, _dirs, files in os.walk(src, followlinks=True):
        for f in sorted(files):
            path = os.path.join(root, f)
            yield path, os.path.relpath(path, src).replace(os.sep, "/")


def write(out, method, **kw):
    with zipfile.ZipFile(out, "w", compression=method) as z:
        for path, name in sorted(members(SRC), key=lambda m: m[1]):
            with open(path, "rb") as f:
                data = f.read()
            info = zipfile.ZipInfo(kw.get("rename", lambda n: n)(name), date_time=(2020, 1, 2, 3, 4, 6))
            info.compress_type = method
            with z.open(info, "w", force_zip64=kw.get("force_zip64", False)) as w:
                w.write(data)


class Unseekable:
    """A write-only stream: zipfile then writes sizes and CRCs in data descriptors."""

    def __init__(self, f):
        self.f = f

    def write(self, b):
        return self.f.write(b)

    def flush(self):
        self.f.flush()


SRC, OUT = sys.argv[1], sys.argv[2]
os.makedirs(OUT, exist_ok=True)
write(os.path.join(OUT, "stored.zip"), zipfile.ZIP_STORED)
write(os.path.join(OUT, "deflated.zip"), zipfile.ZIP_DEFLATED)
write(os.path.join(OUT, "flat.zip"), zipfile.ZIP_DEFLATED, rename=lambda n: n.split("/")[-1])
with open(os.path.join(OUT, "descriptors.zip"), "wb") as f:
    write(Unseekable(f), zipfile.ZIP_DEFLATED)
# Zip64 everywhere: each size and offset past the (lowered) limit goes into a Zip64 extra field,
# and the entry count past ZIP_FILECOUNT_LIMIT brings the Zip64 end record and its locator.
zipfile.ZIP64_LIMIT = 16
zipfile.ZIP_FILECOUNT_LIMIT = 1
write(os.path.join(OUT, "zip64.zip"), zipfile.ZIP_DEFLATED, force_zip64=True)
