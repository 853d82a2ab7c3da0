#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""archinfo.py ARCHIVE: what a real tool wrote, as JSON on stdout.

For an OCI archive (index.json, nested indexes too) or a classic docker-save
archive (manifest.json): each image's reference, platform and layers, and per
layer the numbers the real-image tier asserts on: entries, hard links, hard
links whose mode field holds only permission bits (umoci, GNU tar; buildah and
Docker write 0100644), whiteouts and opaque-directory markers; per image the
regular files once the layers are stacked, whiteouts applied (merged_files)
or extracted as plain files the way `tar -x` of each layer does (tar_files).
Standard library only; layers are read as streams.
"""

import gzip
import json
import os
import sys
import tarfile

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
S_IFMT = 0o170000


def blob_name(digest):
    return "blobs/" + digest.replace(":", "/", 1)


def norm(name):
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "" if name == "." else name


class Counter:
    """A read-only stream that counts the bytes read through it."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def read(self, size=-1):
        b = self.f.read(size)
        self.n += len(b)
        return b


def layer_stats(outer, name):
    """The layer's numbers, and its entries as (path, kind) for merge()."""
    f = outer.extractfile(name)
    head = f.read(4)
    f.seek(0)
    if head.startswith(ZSTD_MAGIC):
        return {"compression": "zstd"}, []  # not summarised: no zstd in the standard library
    comp = "gzip" if head.startswith(GZIP_MAGIC) else "none"
    raw = Counter(gzip.GzipFile(fileobj=f) if comp == "gzip" else f)
    st = {"compression": comp, "bytes": outer.getmember(name).size, "entries": 0, "files": 0,
          "symlinks": 0, "dirs": 0, "file_bytes": 0, "hardlinks": 0, "hardlinks_perm_only": 0,
          "whiteouts": 0, "opaque": 0}
    entries = []
    with tarfile.open(fileobj=raw, mode="r|") as layer:
        for ti in layer:
            st["entries"] += 1
            path = norm(ti.name)
            base = os.path.basename(path)
            kind = "d" if ti.isdir() else "l" if ti.issym() else "f"
            if ti.type == tarfile.LNKTYPE:
                st["hardlinks"] += 1
                if not ti.mode & S_IFMT:
                    st["hardlinks_perm_only"] += 1
            if base == ".wh..wh..opq":
                st["opaque"] += 1
                kind = "opq"
            elif base.startswith(".wh."):
                st["whiteouts"] += 1
                kind = "wh"
            elif ti.isreg() or ti.islnk():
                st["files"] += 1
                st["file_bytes"] += ti.size if ti.isreg() else 0
            st["symlinks"] += ti.issym()
            st["dirs"] += ti.isdir()
            entries.append((path, kind))
    while raw.read(1 << 20):
        pass
    st["tar_bytes"] = raw.n
    return st, entries


def merge(layers, whiteouts):
    """Regular files (and hard links) once the layers are stacked: with
    whiteouts applied as overlayfs does, or extracted as plain files (tar)."""
    state = {}

    def drop(path):
        state.pop(path, None)
        for p in [p for p in state if p.startswith(path + "/")]:
            del state[p]

    for entries in layers:
        if whiteouts:
            for path, kind in entries:
                d = os.path.dirname(path)
                if kind == "opq":
                    for p in [p for p in state if p.startswith(d + "/")]:
                        del state[p]
                elif kind == "wh":
                    drop(os.path.join(d, os.path.basename(path)[4:]))
        for path, kind in entries:
            if kind in ("opq", "wh"):
                if whiteouts:
                    continue
                kind = "f"
            if kind != "d" and state.get(path) == "d":
                drop(path)
            state[path] = kind
    return sum(1 for k in state.values() if k == "f")


def image(outer, ref, platform, cfg, names, seen):
    layers = []
    for n in names:
        if n not in seen:
            seen[n] = layer_stats(outer, n)
        layers.append(seen[n])
    return {"ref": ref, "platform": platform, "config": cfg.get("config", {}),
            "layers": [st for st, _ in layers],
            "merged_files": merge([e for _, e in layers], True),
            "tar_files": merge([e for _, e in layers], False)}


def read_json(outer, name):
    return json.load(outer.extractfile(name))


def oci_images(outer, index, seen, ref=None):
    out = []
    for desc in index.get("manifests", []):
        r = desc.get("annotations", {}).get("org.opencontainers.image.ref.name", ref)
        mt = desc.get("mediaType", "")
        body = read_json(outer, blob_name(desc["digest"]))
        if mt.endswith("index.v1+json") or mt.endswith("manifest.list.v2+json") or "manifests" in body:
            out += oci_images(outer, body, seen, r)
            continue
        cfg = read_json(outer, blob_name(body["config"]["digest"]))
        plat = desc.get("platform") or {"os": cfg.get("os"), "architecture": cfg.get("architecture")}
        out.append(image(outer, r, "%s/%s" % (plat.get("os"), plat.get("architecture")), cfg,
                         [blob_name(l["digest"]) for l in body["layers"]], seen))
    return out


def docker_images(outer, seen):
    out = []
    for m in read_json(outer, "manifest.json"):
        cfg = read_json(outer, m["Config"])
        out.append(image(outer, ",".join(m.get("RepoTags") or []),
                         "%s/%s" % (cfg.get("os"), cfg.get("architecture")), cfg, m["Layers"], seen))
    return out


def main():
    path = sys.argv[1]
    with tarfile.open(path) as outer:
        names = set(outer.getnames())
        if "index.json" in names and "manifest.json" not in names:
            fmt, images = "oci", oci_images(outer, read_json(outer, "index.json"), {})
        else:
            fmt, images = "docker", docker_images(outer, {})
    json.dump({"file": os.path.basename(path), "format": fmt, "size": os.path.getsize(path),
               "images": images}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
