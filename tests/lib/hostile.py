#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""hostile.py: image archives whose one layer attacks the unpacker.

Every archive is a valid OCI image (ocitool: digests, sizes and diff_ids all
correct), so only the unpacker's own rules can stop it. `hostile.py OUTDIR`
writes hostile-<case>.tar for each case and cases.txt, one line a case
(`--layers`: the layer blob alone, layer-<case>, for a unit test):

    NAME EXPECTATION REASON...

EXPECTATION is one of
  refuse      the import must fail, and leave nothing behind;
  neutralise  the import may fail or succeed, but nothing may appear outside
              the store's staging/layer directory and the dangerous part must
              be absent or inert (what is "inert" is said in the reason);
  accept      the import must succeed and keep the entry as it is.

The file names an attack aims at are fixed (evil, x, passwd) so that a test
can look for them: e.g. /etc/evil, LAYERDIR/../../etc/evil, STORE/../evil.

Layers are written with tarfile where it can express the entry, and raw
(ustar/GNU/PAX headers built here) where it cannot: GNU sparse headers and a
PAX size that lies about the data that follows.
"""

import argparse
import os
import subprocess
import sys
import tarfile

# No __pycache__ beside the sources: other people work in this tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitool  # noqa: E402

BLOCK = 512
GiB = 1 << 30
HUGE = 100 * GiB
EVIL = b"limpet hostile-layer payload: this must not be here\n"


# ---------------------------------------------------------------- tar pieces

def _pad(data):
    return data + b"\0" * (-len(data) % BLOCK)


def member(name, data=b"", type=tarfile.REGTYPE, mode=0o644, linkname="", uid=0, gid=0,
           devmajor=0, devminor=0):
    """One tar member written by tarfile (PAX format: long names become PAX
    path/linkpath records). tarfile writes names exactly as given: it only
    sanitises on extraction, which is why it can make hostile entries."""
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname, ti.uid, ti.gid = type, mode, linkname, uid, gid
    ti.devmajor, ti.devminor, ti.mtime = devmajor, devminor, ocitool.epoch()
    ti.size = len(data) if type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + _pad(data)


def _num(value, width):
    """A numeric header field: octal while it fits, else GNU base-256
    (which is how GNU tar stores sizes and offsets past 8 GiB)."""
    digits = b"%o" % value
    if len(digits) < width:
        return digits.rjust(width - 1, b"0") + b"\0"
    return bytes([0x80]) + value.to_bytes(width - 1, "big")


def raw_header(name, size, typeflag, gnu=False, mode=0o644, sparse=(), realsize=None):
    """A header block built by hand, for what tarfile will not write."""
    h = bytearray(BLOCK)
    nm = name.encode()
    assert len(nm) <= 100, name
    h[0:len(nm)] = nm
    h[100:108] = _num(mode, 8)
    h[108:116] = _num(0, 8)
    h[116:124] = _num(0, 8)
    h[124:136] = _num(size, 12)
    h[136:148] = _num(ocitool.epoch(), 12)
    h[156:157] = typeflag
    if gnu:
        h[257:265] = b"ustar  \0"
        # GNU sparse map: up to four (offset, numbytes) pairs, then realsize.
        for i, (off, n) in enumerate(sparse):
            h[386 + 24 * i:398 + 24 * i] = _num(off, 12)
            h[398 + 24 * i:410 + 24 * i] = _num(n, 12)
        if realsize is not None:
            h[483:495] = _num(realsize, 12)
    else:
        h[257:265] = b"ustar\x0000"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pax_header(records, name="PaxHeaders/x"):
    body = b""
    for k, v in records.items():
        rec = (" %s=%s\n" % (k, v)).encode()
        n = len(rec) + 1
        while len(str(n).encode()) + len(rec) != n:
            n += 1
        body += str(n).encode() + rec
    return raw_header(name, len(body), b"x") + _pad(body)


def layer(*members):
    """Members joined and closed by the two zero blocks that end a tar."""
    return b"".join(members) + b"\0" * (2 * BLOCK)


def d(name, mode=0o755):
    return member(name, type=tarfile.DIRTYPE, mode=mode)


# ---------------------------------------------------------------- the cases

CASES = []


def case(name, expect, reason):
    def register(fn):
        CASES.append((name, expect, reason, fn))
        return fn
    return register


@case("control", "accept",
      "a plain layer (dir, file, relative symlink inside the image): proves the harness; must import")
def _control():
    return layer(d("etc"), member("etc/motd", b"hello\n"), member("etc/link", type=tarfile.SYMTYPE,
                                                                    linkname="motd", mode=0o777))


@case("traversal-dotdot", "refuse",
      "entry ../../etc/evil climbs out of the layer dir; no real image has a .. that escapes")
def _traversal_dotdot():
    return layer(member("../../etc/evil", EVIL))


@case("traversal-inner", "refuse",
      "entry a/../../evil escapes through an inner .. after a harmless first component")
def _traversal_inner():
    return layer(d("a"), member("a/../../evil", EVIL))


@case("absolute-path", "neutralise",
      "entry /etc/evil: tar and Docker strip the leading /, so root it at the layer (or refuse); host /etc/evil must not appear")
def _absolute():
    return layer(member("/etc/evil", EVIL))


@case("symlink-abs-write", "neutralise",
      "link -> /etc is a legal symlink, but the later link/evil must land in the layer's own etc/ or be refused, never in host /etc")
def _symlink_abs():
    return layer(member("link", type=tarfile.SYMTYPE, linkname="/etc", mode=0o777), member("link/evil", EVIL))


@case("symlink-rel-write", "neutralise",
      "link -> ../../.. is a legal symlink (it resolves to / inside the image), but link/evil must not be written through it to outside the layer")
def _symlink_rel():
    return layer(member("link", type=tarfile.SYMTYPE, linkname="../../..", mode=0o777), member("link/evil", EVIL))


@case("hardlink-escape", "refuse",
      "hardlink hl -> ../../../etc/passwd would share an inode with a host file (writable from the container)")
def _hardlink_escape():
    return layer(member("hl", type=tarfile.LNKTYPE, linkname="../../../etc/passwd"))


@case("hardlink-abs", "neutralise",
      "hardlink hl -> /etc/passwd may only mean the layer's own etc/passwd (present here) or be refused; no store file may share host /etc/passwd's inode")
def _hardlink_abs():
    return layer(d("etc"), member("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                 member("hl", type=tarfile.LNKTYPE, linkname="/etc/passwd"))


@case("hardlink-via-symlink", "neutralise",
      "hardlink hl -> link/passwd where link -> /etc: link(2) would follow the symlink to host /etc/passwd unless resolved inside the layer")
def _hardlink_via_symlink():
    return layer(d("etc"), member("etc/passwd", b"root:x:0:0::/root:/bin/sh\n"),
                 member("link", type=tarfile.SYMTYPE, linkname="/etc", mode=0o777),
                 member("hl", type=tarfile.LNKTYPE, linkname="link/passwd"))


@case("symlink-then-dir", "accept",
      "link -> tgt, then a directory link/ (mode 0700) with a file: the directory replaces the symlink, as tar -x does; its mode must never reach the symlink's target (with link -> /etc, host /etc)")
def _symlink_then_dir():
    return layer(d("tgt"), member("link", type=tarfile.SYMTYPE, linkname="tgt", mode=0o777),
                 d("link", mode=0o700), member("link/f", b"x"))


@case("device-char", "neutralise",
      "dev/mem char 1:1 mode 0666: no device node may be created in the store (a host user reaching it reads memory); skip it or refuse, the runtime makes /dev")
def _device_char():
    return layer(d("dev"), member("dev/mem", type=tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=1))


@case("device-block", "neutralise",
      "dev/sda block 8:0 mode 0666: same rule as device-char, no block device node in the store")
def _device_block():
    return layer(d("dev"), member("dev/sda", type=tarfile.BLKTYPE, mode=0o666, devmajor=8, devminor=0))


@case("sparse-gnu", "refuse",
      "GNU old-style sparse file claiming 100 GiB with 512 bytes of data: over the per-file cap (and sparse files are not supported)")
def _sparse_gnu():
    data = b"S" * BLOCK
    return layer(d("big"),
                 raw_header("big/sparse", len(data), b"S", gnu=True, sparse=[(HUGE - BLOCK, BLOCK)], realsize=HUGE)
                 + data)


@case("sparse-pax", "refuse",
      "PAX 1.0 sparse file (GNU.sparse.realsize=100 GiB) with 512 bytes of data: over the per-file cap")
def _sparse_pax():
    sparse_map = _pad(b"1\n%d\n%d\n" % (HUGE - BLOCK, BLOCK))
    data = b"P" * BLOCK
    return layer(pax_header({"GNU.sparse.major": 1, "GNU.sparse.minor": 0, "GNU.sparse.name": "big",
                             "GNU.sparse.realsize": HUGE}),
                 raw_header("GNUSparseFile.0/big", len(sparse_map) + len(data), b"0") + sparse_map + data)


@case("size-pax", "refuse",
      "PAX size=100 GiB followed by one block of data and the end: over the per-file cap, and the tar is short; never allocate or wait for the claimed size")
def _size_pax():
    return layer(pax_header({"size": HUGE}), raw_header("huge", 0, b"0") + b"H" * BLOCK)


@case("deep-path", "refuse",
      "one file 2000 components deep (a/a/...; 3999 bytes, implicit parents): with the store prefix it is past PATH_MAX; cap depth and name length")
def _deep_path():
    return layer(member("/".join(["a"] * 2000), EVIL))


@case("deep-dirs", "neutralise",
      "a directory depth bomb: 1500 nested directory entries (each path < PATH_MAX); may be refused by a depth cap or unpacked, but the agent must not crash and removing the image must remove every level")
def _deep_dirs():
    return layer(*[d("/".join(["d"] * i)) for i in range(1, 1501)], member("/".join(["d"] * 1500) + "/bottom", b"x"))


@case("long-name", "refuse",
      "a 5000-byte PAX path (100 components of 49 bytes): past PATH_MAX 4096")
def _long_name():
    name = "/".join(["n" * 49] * 100) + "n"     # 100 * 49 + 99 slashes + 1 = 5000 bytes
    assert len(name) == 5000
    return layer(member(name, EVIL))


@case("long-component", "refuse",
      "one path component of 300 bytes: past NAME_MAX 255; the import must fail cleanly, not leave half a layer")
def _long_component():
    return layer(d("dir"), member("dir/" + "c" * 300, EVIL))


@case("fifo", "neutralise",
      "a FIFO is inert data: it may be created or skipped, but the unpacker must never open it (that would block the import)")
def _fifo():
    return layer(d("run"), member("run/fifo", type=tarfile.FIFOTYPE, mode=0o666))


@case("unknown-type", "neutralise",
      "typeflag 'Z' (no tar type exists for sockets, this stands in for them): POSIX says an unknown type reads as a regular file, as libarchive does; it must be inert data, nothing else")
def _unknown_type():
    return layer(member("sock", type=b"Z", mode=0o777))


@case("setuid", "accept",
      "setuid/setgid/sticky bits are ordinary image content (ping, su): import and keep mode 4755/2755/1777 and owner 0:0; the runtime's no_new_privs and capability drop are the defence")
def _setuid():
    return layer(d("bin"), member("bin/suid", b"#!/bin/sh\nid\n", mode=0o4755),
                 member("bin/sgid", b"#!/bin/sh\nid\n", mode=0o2755), d("tmp", mode=0o1777))


@case("whiteout-escape", "refuse",
      "whiteout ../.wh.x names a path outside the layer (an overlay whiteout made for it would land outside, or delete ../x)")
def _whiteout_escape():
    return layer(member("../.wh.x"))


@case("whiteout-dir", "refuse",
      "data/.wh.victim is a directory (with a file in it): a whiteout must be an empty regular file, this one is malformed")
def _whiteout_dir():
    return layer(d("data"), d("data/.wh.victim"), member("data/.wh.victim/f", b"x"))


@case("whiteout-dotdot", "refuse",
      "data/.wh... whites out data/.. (the layer root or beyond): whiteouts of . and .. are malformed")
def _whiteout_dotdot():
    return layer(d("data"), member("data/.wh..."))


@case("whiteout-symlink", "refuse",
      "link -> /etc, then link/.wh.evil: the whiteout (a char device) must not be made through the layer's own symlink in host /etc")
def _whiteout_symlink():
    return layer(member("link", type=tarfile.SYMTYPE, linkname="/etc", mode=0o777), member("link/.wh.evil"))


@case("opaque-symlink", "refuse",
      "link -> /etc, then link/evil-dir/.wh..wh..opq: neither the directory nor the opaque mark may be made through the symlink in host /etc")
def _opaque_symlink():
    return layer(member("link", type=tarfile.SYMTYPE, linkname="/etc", mode=0o777),
                 member("link/evil-dir/.wh..wh..opq"))


# ---------------------------------------------------------------- output

def write_all(outdir, key=None, compression="gzip", only=None, layers=False):
    os.makedirs(outdir, exist_ok=True)
    lines = ["# name expectation reason",
             "# refuse: the import must fail and leave nothing behind.",
             "# neutralise: the import may fail or succeed; nothing may appear outside the store's",
             "#   staging/layer dir, and the dangerous part must be absent or inert.",
             "# accept: the import must succeed and keep the entry as it is."]
    written = []
    for name, expect, reason, fn in CASES:
        if only and name not in only:
            continue
        if layers:
            path = os.path.join(outdir, "layer-%s" % name)
            ocitool.write_file(path, ocitool.compress(fn(), compression))
            lines.append("%s %s %s" % (name, expect, reason))
            written.append(path)
            continue
        lay = ocitool.build_image([fn()], compression, cmd=["/bin/true"],
                                  labels={"org.limpet.test.case": name, "org.limpet.test.expect": expect})
        path = os.path.join(outdir, "hostile-%s.tar" % name)
        ocitool.write_oci(lay, path)
        if key:
            subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, "-out", path + ".sig", path], check=True)
        lines.append("%s %s %s" % (name, expect, reason))
        written.append(path)
    ocitool.write_file(os.path.join(outdir, "cases.txt"), ("\n".join(lines) + "\n").encode())
    return written


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir")
    p.add_argument("--key", help="also sign each archive (openssl dgst -sha256 -sign KEY)")
    p.add_argument("--compression", choices=sorted(ocitool.MT_LAYER), default="gzip")
    p.add_argument("--only", action="append", help="just this case (repeat)")
    p.add_argument("--layers", action="store_true",
                   help="write each case's layer blob alone, layer-<case>, not an image archive")
    p.add_argument("--list", action="store_true", help="print the cases and exit")
    a = p.parse_args(argv)
    if a.list:
        for name, expect, reason, _ in CASES:
            print("%s %s %s" % (name, expect, reason))
        return 0
    for path in write_all(a.outdir, a.key, a.compression, a.only, a.layers):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
