"""Writes the GPU bench's device archive (pack.ts): a Python zip application whose __main__.py
(device_run.py, stored plainly: zipimport reads only stored or deflated members) unpacks
payload.tar.xz, the payload folder compressed with xz through Python's lzma.

Usage: python3 pack_archive.py PAYLOAD_DIR MAIN_PY OUT_FILE
"""
import io, os, sys, tarfile, zipfile


def main():
    payload, main_py, out = sys.argv[1:4]
    buf = io.BytesIO()
    # xz's default preset 6: 9e ran past 6 minutes on 2 shared cores without finishing.
    with tarfile.open(fileobj=buf, mode='w:xz', preset=6) as t:
        for name in sorted(os.listdir(payload)):
            t.add(os.path.join(payload, name), arcname=name)
    tmp = out + '.part'
    with open(tmp, 'wb') as f:
        f.write(b'#!/usr/bin/env python3\n')
        with zipfile.ZipFile(f, 'w', compression=zipfile.ZIP_STORED) as z:
            z.write(main_py, '__main__.py')
            z.writestr('payload.tar.xz', buf.getvalue())
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)


if __name__ == '__main__':
    main()
