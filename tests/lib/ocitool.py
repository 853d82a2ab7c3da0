#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ocitool: make, break and check OCI and docker-save image archives.

limpet's tests need image archives whose every byte they control: good ones in
the layouts real tools write, and bad ones that fail exactly one check. This
builds them from plain layer tars, without Docker or a registry.

Formats (--format):
  oci         OCI image layout in a tar: what `skopeo copy ... oci-archive:`
              and umoci write (oci-layout, index.json, blobs/sha256/*).
  docker      classic `docker save` (Docker <= 24): manifest.json with
              Config/RepoTags/Layers, <config-hex>.json, <id>/layer.tar
              (uncompressed), <id>/json, <id>/VERSION, repositories.
  docker-oci  `docker save` of Docker >= 25: an OCI layout (uncompressed
              layers) that also carries manifest.json and repositories.

Commands (all write deterministically: SOURCE_DATE_EPOCH or 0 for every
time stamp, uid/gid 0, sorted or explicitly ordered members):
  build OUT --layer L.tar ...     assemble an image from layer tars
  index OUT --image SRC ...       a multi-platform image: one image index over
                                  the images SRC (each from `build --arch`),
                                  for `skopeo copy --all oci:OUT:REF ...`
  break SRC OUT --flip-layer N | --wrong-diffid N | --truncate [BYTES]
                 | --manifest-digest
  check SRC                       verify every digest, size and diff_id
  recompress SRC OUT --compression gzip|zstd|none
  extract-layer SRC N OUT.tar     write layer N (0-based, -1 = last) uncompressed
                                  (OUT - is standard output)
  mklayer OUT.tar SPEC ...        a small layer tar from specs (see below)
  retime FILE [--mtime T]         rewrite a tar's header times in place

SRC is an archive (FILE or FILE:REF), or an OCI layout directory (DIR or
DIR:REF, REF matching org.opencontainers.image.ref.name).

Standard library only; zstd goes through the `zstd` command-line tool.
"""

import argparse
import copy
import gzip
import hashlib
import io
import json
import os
import platform
import posixpath
import subprocess
import sys
import tarfile
import time
import zlib

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
# Docker's schema 2 names, which skopeo and Docker leave in layouts they copy.
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
LAYER_COMPRESSION = {
    MT_LAYER["none"]: "none",
    MT_LAYER["gzip"]: "gzip",
    MT_LAYER["zstd"]: "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "none",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
    # Non-distributable layers: same bytes, different distribution rules.
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
}
REF_NAME = "org.opencontainers.image.ref.name"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class OciError(Exception):
    pass


# ---------------------------------------------------------------- basics

def epoch():
    """The one time stamp everything gets, so that rebuilds are identical."""
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def jdump(obj):
    """Compact JSON, as Go's encoding/json (umoci, skopeo, Docker) writes it."""
    return json.dumps(obj, separators=(",", ":")).encode()


def host_arch():
    """The host's architecture in GOARCH spelling, as image configs use it."""
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
            "i686": "386", "i386": "386"}.get(m, m)


def _zstd(args, data):
    try:
        return subprocess.run(["zstd", *args], input=data, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=True).stdout
    except FileNotFoundError:
        raise OciError("the zstd command is not installed (apt-get install zstd)") from None
    except subprocess.CalledProcessError as e:
        raise OciError("zstd: " + e.stderr.decode(errors="replace").strip()) from None


def compress(data, kind):
    if kind == "none":
        return data
    if kind == "gzip":
        # mtime=0 and no file name in the header: same input, same blob.
        return gzip.compress(data, compresslevel=6, mtime=0)
    if kind == "zstd":
        return _zstd(["-q", "-c", "-3", "--no-progress", "-"], data)
    raise OciError("unknown compression %r" % kind)


def decompress(blob, kind):
    if kind == "none":
        return blob
    if kind == "gzip":
        if not blob.startswith(GZIP_MAGIC):
            raise OciError("layer says gzip but is not gzip data")
        try:
            return gzip.decompress(blob)
        except (OSError, EOFError, ValueError, zlib.error) as e:
            raise OciError("gzip: %s" % e) from None
    if kind == "zstd":
        if not blob.startswith(ZSTD_MAGIC):
            raise OciError("layer says zstd but is not zstd data")
        return _zstd(["-q", "-d", "-c", "-"], blob)
    raise OciError("unknown compression %r" % kind)


def sniff(blob):
    """Compression by magic number, for docker-save layers that have no media type."""
    if blob.startswith(GZIP_MAGIC):
        return "gzip"
    if blob.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def layer_kind(media_type):
    try:
        return LAYER_COMPRESSION[media_type]
    except KeyError:
        raise OciError("unsupported layer media type %r" % media_type) from None


def _hex(d):
    algo, _, hexpart = d.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise OciError("not a sha256 digest: %r" % d)
    return hexpart


def blob_path(d):
    return "blobs/sha256/" + _hex(d)


# ---------------------------------------------------------------- tar I/O

class Symlink(str):
    """tar_bytes data that makes a symlink to this target."""


def tar_bytes(items):
    """A deterministic tar from (name, data) pairs in the given order.

    data None makes a directory, a Symlink a symlink. Every header gets the
    same time, uid/gid 0 and no user names, so only names and contents
    decide the bytes.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in items:
            ti = tarfile.TarInfo(name)
            ti.mtime = epoch()
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            elif isinstance(data, Symlink):
                ti.type, ti.mode, ti.linkname = tarfile.SYMTYPE, 0o777, str(data)
                t.addfile(ti)
            else:
                ti.mode, ti.size = 0o644, len(data)
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def write_file(path, data):
    """Write through a temporary name: a reader never sees half a file."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_members(data):
    """All members of a tar as [TarInfo, bytes] in archive order."""
    out = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as t:
            for ti in t:
                body = t.extractfile(ti).read() if ti.isreg() else b""
                if ti.isreg() and len(body) != ti.size:
                    raise OciError("truncated archive: %s is short" % ti.name)
                out.append([ti, body])
    except (tarfile.TarError, EOFError) as e:
        raise OciError("not a readable tar: %s" % e) from None
    return out


def write_members(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, body in members:
            ti = copy.copy(ti)
            if ti.isreg():
                ti.size = len(body)
                t.addfile(ti, io.BytesIO(body))
            else:
                t.addfile(ti)
    return buf.getvalue()


def _norm(name):
    name = posixpath.normpath(name.lstrip("/"))
    return "" if name == "." else name


class Archive:
    """A tar of an image, read whole: names (normalised) -> contents."""

    def __init__(self, data):
        self.members = read_members(data)
        self.by_name = {}
        for ti, body in self.members:
            self.by_name[_norm(ti.name)] = (ti, body)

    def has(self, name):
        return _norm(name) in self.by_name

    def read(self, name, depth=0):
        """Contents of a regular member, following symlinks between members
        (skopeo's docker-archive has <id>/layer.tar -> ../<diffid>.tar)."""
        entry = self.by_name.get(_norm(name))
        if entry is None:
            raise OciError("archive has no %s" % name)
        ti, body = entry
        if ti.issym() and depth < 8:
            return self.read(posixpath.join(posixpath.dirname(_norm(name)), ti.linkname), depth + 1)
        if not ti.isreg():
            raise OciError("%s is not a regular file" % name)
        return body


# ---------------------------------------------------------------- OCI layouts

class Layout:
    """An OCI image layout in memory: relative path -> bytes."""

    def __init__(self, files=None):
        self.files = dict(files or {})

    # -- loading
    @classmethod
    def from_dir(cls, path):
        files = {}
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for n in sorted(names):
                full = os.path.join(root, n)
                rel = os.path.relpath(full, path).replace(os.sep, "/")
                if rel in ("index.json", "oci-layout", "manifest.json", "repositories") or rel.startswith("blobs/"):
                    with open(full, "rb") as f:
                        files[rel] = f.read()
        return cls(files)

    @classmethod
    def from_archive(cls, arch):
        files = {}
        for name, (ti, body) in arch.by_name.items():
            if ti.isreg():
                files[name] = body
        return cls(files)

    # -- blobs
    def blob(self, d):
        try:
            return self.files[blob_path(d)]
        except KeyError:
            raise OciError("missing blob %s" % d) from None

    def add_blob(self, data, media_type, annotations=None):
        d = digest(data)
        self.files[blob_path(d)] = data
        desc = {"mediaType": media_type, "digest": d, "size": len(data)}
        if annotations:
            desc["annotations"] = annotations
        return desc

    def index(self):
        try:
            return json.loads(self.files["index.json"])
        except KeyError:
            raise OciError("no index.json: not an OCI layout") from None
        except ValueError as e:
            raise OciError("index.json: %s" % e) from None

    def manifest_desc(self, ref=None):
        """The descriptor of the image manifest REF names (or the only one)."""
        descs = self.index().get("manifests") or []
        if ref is not None:
            descs = [d for d in descs if (d.get("annotations") or {}).get(REF_NAME) == ref]
            if not descs:
                raise OciError("no image named %r in index.json" % ref)
        if not descs:
            raise OciError("index.json lists no manifests")
        if len(descs) > 1:
            names = [(d.get("annotations") or {}).get(REF_NAME) for d in descs]
            raise OciError("index.json lists %d images %s: name one with :REF" % (len(descs), names))
        desc = descs[0]
        # A nested image index (multi-arch): take the host's platform, else the first.
        for _ in range(4):
            if desc.get("mediaType") not in (MT_INDEX, MT_DOCKER_LIST):
                return desc
            sub = json.loads(self.blob(desc["digest"])).get("manifests") or []
            if not sub:
                raise OciError("empty nested index %s" % desc["digest"])
            mine = [d for d in sub if (d.get("platform") or {}).get("architecture") == host_arch()]
            desc = (mine or sub)[0]
        raise OciError("image indexes nested too deep")

    def manifest(self, ref=None):
        desc = self.manifest_desc(ref)
        return desc, json.loads(self.blob(desc["digest"]))


def load(spec):
    """(Layout, ref, Archive or None) from FILE[:REF] or DIR[:REF]."""
    path, ref = spec, None
    if not os.path.exists(path) and ":" in spec:
        path, ref = spec.rsplit(":", 1)
    if os.path.isdir(path):
        return Layout.from_dir(path), ref, None
    with open(path, "rb") as f:
        arch = Archive(f.read())
    return Layout.from_archive(arch), ref, arch


# ---------------------------------------------------------------- building

def make_config(diff_ids, entrypoint=None, cmd=None, env=None, workdir=None, user=None,
                labels=None, arch=None, os_name="linux", created=None, variant=None):
    created = rfc3339(epoch() if created is None else created)
    cfg = {}
    if user:
        cfg["User"] = user
    if env:
        cfg["Env"] = list(env)
    if entrypoint is not None:
        cfg["Entrypoint"] = list(entrypoint)
    if cmd is not None:
        cfg["Cmd"] = list(cmd)
    if workdir:
        cfg["WorkingDir"] = workdir
    if labels:
        cfg["Labels"] = dict(labels)
    history = [{"created": created, "created_by": "ocitool layer %d" % i} for i in range(len(diff_ids))]
    # Docker records config-only steps as empty layers; importers must skip
    # them when they pair history with diff_ids.
    history.append({"created": created, "created_by": "ocitool config", "empty_layer": True})
    out = {
        "created": created,
        "architecture": arch or host_arch(),
        "os": os_name,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": history,
    }
    if variant:
        out["variant"] = variant
    return out


def build_image(layers, compression="gzip", ref="latest", annotations=None, **config):
    """An OCI Layout of one image from uncompressed layer tars (bytes).

    compression is one word for every layer or a list, one per layer.
    config keywords go to make_config (entrypoint, cmd, env, workdir, user,
    labels, arch, os_name, created).
    """
    kinds = [compression] * len(layers) if isinstance(compression, str) else list(compression)
    if len(kinds) != len(layers):
        raise OciError("one compression per layer")
    lay = Layout({"oci-layout": jdump({"imageLayoutVersion": "1.0.0"})})
    descs, diff_ids = [], []
    for data, kind in zip(layers, kinds):
        diff_ids.append(digest(data))
        descs.append(lay.add_blob(compress(data, kind), MT_LAYER[kind]))
    cfg = lay.add_blob(jdump(make_config(diff_ids, **config)), MT_CONFIG)
    return _finish(lay, cfg, descs, ref, annotations)


def build_index(sources, ref="latest"):
    """An OCI Layout whose index.json names (ref) one image index over the
    images of sources (FILE[:REF] or DIR[:REF] each, single-platform), in
    that order, each entry with the platform its config gives (os,
    architecture, variant). Manifests and blobs are kept byte for byte."""
    out = Layout({"oci-layout": jdump({"imageLayoutVersion": "1.0.0"})})
    entries = []
    for spec in sources:
        lay, sref, _ = load(spec)
        mdesc, m = lay.manifest(sref)
        cfg = json.loads(lay.blob(m["config"]["digest"]))
        plat = {"architecture": cfg.get("architecture"), "os": cfg.get("os")}
        if cfg.get("variant"):
            plat["variant"] = cfg["variant"]
        if plat in [e["platform"] for e in entries]:
            raise OciError("%s: a second image for %s" % (spec, plat))
        for d in [mdesc, m["config"]] + m.get("layers", []):
            out.files[blob_path(d["digest"])] = lay.blob(d["digest"])
        entries.append({"mediaType": mdesc.get("mediaType", MT_MANIFEST), "digest": mdesc["digest"],
                        "size": len(lay.blob(mdesc["digest"])), "platform": plat})
    if not entries:
        raise OciError("an index needs at least one --image")
    idx = out.add_blob(jdump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries}), MT_INDEX,
                       {REF_NAME: ref} if ref else None)
    out.files["index.json"] = jdump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [idx]})
    return out


def _finish(lay, cfg_desc, layer_descs, ref, index_annotations=None, manifest_extra=None):
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cfg_desc, "layers": layer_descs}
    if manifest_extra:
        manifest.update(manifest_extra)
    ann = dict(index_annotations or {})
    if ref:
        ann[REF_NAME] = ref
    mdesc = lay.add_blob(jdump(manifest), MT_MANIFEST, ann or None)
    lay.files["index.json"] = jdump({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [mdesc]})
    return lay


def oci_items(lay, order="blobs-first"):
    """(name, data) for an OCI archive.

    blobs-first: lexical order with directory entries, as skopeo and
    containers/image write it (they tar a directory walk), so index.json comes
    after every blob and a streaming reader must buffer or spool.
    index-first: oci-layout, index.json (and manifest.json), then manifest,
    config and layers in manifest order: the friendliest order for a
    streaming reader.
    """
    if order == "blobs-first":
        names = sorted(lay.files)
        dirs = sorted({posixpath.dirname(n) for n in names if "/" in n} | {"blobs"})
        return [(d, None) for d in dirs] + [(n, lay.files[n]) for n in names]
    if order != "index-first":
        raise OciError("unknown order %r" % order)
    head = [n for n in ("oci-layout", "index.json", "manifest.json", "repositories") if n in lay.files]
    seq = []
    for desc in lay.index().get("manifests") or []:
        seq.append(desc["digest"])
        try:
            m = json.loads(lay.blob(desc["digest"]))
        except (OciError, ValueError):
            continue
        seq += [m["config"]["digest"]] + [l["digest"] for l in m.get("layers", [])]
    blobs = []
    for d in seq:
        if blob_path(d) in lay.files and blob_path(d) not in blobs:
            blobs.append(blob_path(d))
    blobs += sorted(n for n in lay.files if n.startswith("blobs/") and n not in blobs)
    rest = sorted(n for n in lay.files if n not in head and n not in blobs)
    return ([(n, lay.files[n]) for n in head] + [("blobs", None), ("blobs/sha256", None)]
            + [(n, lay.files[n]) for n in blobs + rest])


def write_oci(lay, out, order="blobs-first"):
    write_file(out, tar_bytes(oci_items(lay, order)))


def write_layout_dir(lay, out):
    """An OCI layout directory (what `skopeo copy ... oci:DIR:REF` reads)."""
    if os.path.isdir(out) and os.listdir(out) and not os.path.exists(os.path.join(out, "oci-layout")):
        raise OciError("%s exists and is not an OCI layout: not replacing it" % out)
    if os.path.isdir(out):
        for root, dirs, names in os.walk(out, topdown=False):
            for n in names:
                os.unlink(os.path.join(root, n))
            for n in dirs:
                os.rmdir(os.path.join(root, n))
    for name, data in lay.files.items():
        path = os.path.join(out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_file(path, data)


def _v1_ids(diff_ids):
    """Legacy per-layer directory names: a chain over the diff_ids, like
    Docker's (which no importer should trust: only manifest.json counts)."""
    ids, parent = [], ""
    for d in diff_ids:
        parent = hashlib.sha256(("%s\n%s" % (parent, d)).encode()).hexdigest()
        ids.append(parent)
    return ids


def docker_items(lay, repo_tag, ref=None):
    """(name, data) for a classic `docker save` tar of the image in lay."""
    _, m = lay.manifest(ref)
    cfg_bytes = lay.blob(m["config"]["digest"])
    cfg = json.loads(cfg_bytes)
    ids = _v1_ids(cfg["rootfs"]["diff_ids"])
    files = {_hex(m["config"]["digest"]) + ".json": cfg_bytes}
    layers, first = [], {}
    for i, (desc, v1) in enumerate(zip(m["layers"], ids)):
        # docker save always writes layers uncompressed, a repeated one once:
        # the later copies are symlinks to the first, ../ID/layer.tar.
        if desc["digest"] in first:
            files[v1 + "/layer.tar"] = Symlink("../%s/layer.tar" % first[desc["digest"]])
        else:
            first[desc["digest"]] = v1
            files[v1 + "/layer.tar"] = decompress(lay.blob(desc["digest"]), layer_kind(desc["mediaType"]))
        files[v1 + "/VERSION"] = b"1.0"
        legacy = {"id": v1, "created": cfg.get("created", rfc3339(0))}
        if i:
            legacy["parent"] = ids[i - 1]
        files[v1 + "/json"] = jdump(legacy)
        layers.append(v1 + "/layer.tar")
    entry = {"Config": _hex(m["config"]["digest"]) + ".json", "RepoTags": [repo_tag] if repo_tag else None,
             "Layers": layers}
    files["manifest.json"] = jdump([entry])
    if repo_tag and ids:
        repo, _, tag = repo_tag.rpartition(":")
        files["repositories"] = jdump({repo: {tag: ids[-1]}})
    names = sorted(files)
    dirs = sorted({posixpath.dirname(n) for n in names if "/" in n})
    return [(d, None) for d in dirs] + [(n, files[n]) for n in names]


def add_docker_index(lay, repo_tag, ref=None):
    """Turn a layout into Docker >= 25's `docker save`: add manifest.json
    (paths into blobs/) and repositories, and name the image in index.json."""
    mdesc, m = lay.manifest(ref)
    entry = {"Config": blob_path(m["config"]["digest"]), "RepoTags": [repo_tag] if repo_tag else None,
             "Layers": [blob_path(l["digest"]) for l in m["layers"]]}
    lay.files["manifest.json"] = jdump([entry])
    if repo_tag:
        repo, _, tag = repo_tag.rpartition(":")
        lay.files["repositories"] = jdump({repo: {tag: _hex(m["layers"][-1]["digest"]) if m["layers"] else ""}})
        idx = lay.index()
        for d in idx["manifests"]:
            if d["digest"] == mdesc["digest"]:
                d.setdefault("annotations", {})["io.containerd.image.name"] = repo_tag
        lay.files["index.json"] = jdump(idx)
    return lay


def write_image(lay, out, fmt="oci", order="blobs-first", repo_tag="limpet/test:latest", ref=None):
    if fmt == "oci":
        write_oci(lay, out, order)
    elif fmt == "docker-oci":
        write_oci(add_docker_index(lay, repo_tag, ref), out, order)
    elif fmt == "docker":
        write_file(out, tar_bytes(docker_items(lay, repo_tag, ref)))
    else:
        raise OciError("unknown format %r" % fmt)


def recompress(lay, kind, ref=None, new_ref=None):
    """The same image (same config, same diff_ids) with every layer
    recompressed as kind: only layer blobs, the manifest and the index change."""
    mdesc, m = lay.manifest(ref)
    out = Layout({"oci-layout": jdump({"imageLayoutVersion": "1.0.0"})})
    out.files[blob_path(m["config"]["digest"])] = lay.blob(m["config"]["digest"])
    layers = []
    for desc in m["layers"]:
        data = decompress(lay.blob(desc["digest"]), layer_kind(desc["mediaType"]))
        new = dict(desc)
        new.update(out.add_blob(compress(data, kind), MT_LAYER[kind]))
        layers.append(new)
    m = dict(m, layers=layers)
    ann = dict(mdesc.get("annotations") or {})
    if new_ref is not None:
        ann[REF_NAME] = new_ref
    newdesc = out.add_blob(jdump(m), mdesc.get("mediaType", MT_MANIFEST), ann or None)
    out.files["index.json"] = jdump({"schemaVersion": 2, "manifests": [newdesc]})
    return out


# ---------------------------------------------------------------- checking

def check(spec):
    """Verify an image archive or layout the way an importer should.

    Returns (lines, errors): a description of what is there, and every
    problem found (an empty list means the image is intact).
    """
    lines, errors = [], []
    try:
        lay, ref, arch = load(spec)
    except (OciError, OSError) as e:
        return lines, [str(e)]
    has_oci = "index.json" in lay.files
    has_docker = "manifest.json" in lay.files
    if not has_oci and not has_docker:
        return lines, ["neither index.json nor manifest.json: not an image archive"]
    if has_oci:
        lines.append("format: " + ("docker-save (OCI layout, Docker >= 25)" if has_docker else "OCI image layout"))
        _check_oci(lay, ref, lines, errors)
    if has_docker:
        if not has_oci:
            lines.append("format: docker-save (classic)")
        _check_docker(lay, arch, lines, errors)
    return lines, errors


def _verify_blob(lay, desc, what, errors):
    try:
        data = lay.blob(desc["digest"])
    except (OciError, KeyError) as e:
        errors.append("%s: %s" % (what, e))
        return None
    if digest(data) != desc["digest"]:
        errors.append("%s: content digest %s does not match %s" % (what, digest(data), desc["digest"]))
    if desc.get("size") != len(data):
        errors.append("%s: size %d does not match descriptor size %s" % (what, len(data), desc.get("size")))
    return data


def _check_layers(blobs, diff_ids, lines, errors):
    """blobs: [(label, media type or None to sniff, bytes)]"""
    if len(blobs) != len(diff_ids):
        errors.append("%d layers but %d diff_ids in the config" % (len(blobs), len(diff_ids)))
    for i, (label, mt, data) in enumerate(blobs):
        if data is None:
            continue
        try:
            kind = layer_kind(mt) if mt else sniff(data)
            tar = decompress(data, kind)
        except OciError as e:
            errors.append("layer %d: %s" % (i, e))
            continue
        got = digest(tar)
        want = diff_ids[i] if i < len(diff_ids) else None
        lines.append("  layer %d: %s %s %d bytes (%d uncompressed) diff_id %s" % (
            i, mt or kind, label, len(data), len(tar), got))
        if got != want:
            errors.append("layer %d: diff_id %s does not match the config's %s" % (i, got, want))


def _check_oci(lay, ref, lines, errors):
    try:
        layout = json.loads(lay.files.get("oci-layout", b"null"))
        if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != "1.0.0":
            errors.append("oci-layout missing or not version 1.0.0")
        idx = lay.index()
        lines.append("  refs: %s" % [(d.get("annotations") or {}).get(REF_NAME) for d in idx.get("manifests", [])])
        mdesc = lay.manifest_desc(ref)
    except (OciError, ValueError) as e:
        errors.append(str(e))
        return
    mbytes = _verify_blob(lay, mdesc, "manifest", errors)
    if mbytes is None:
        return
    try:
        m = json.loads(mbytes)
        lines.append("  manifest: %s %d bytes" % (mdesc["digest"], len(mbytes)))
        cbytes = _verify_blob(lay, m["config"], "config", errors)
        cfg = json.loads(cbytes) if cbytes is not None else {}
        lines.append("  config: %s %s/%s %s" % (m["config"]["digest"], cfg.get("os"), cfg.get("architecture"),
                                                 json.dumps(cfg.get("config", {}), sort_keys=True)))
        blobs = [(l["digest"], l["mediaType"], _verify_blob(lay, l, "layer %d" % i, errors))
                 for i, l in enumerate(m.get("layers", []))]
        _check_layers(blobs, cfg.get("rootfs", {}).get("diff_ids", []), lines, errors)
    except (OciError, ValueError, KeyError, TypeError) as e:
        errors.append("manifest: %s" % e)


def _check_docker(lay, arch, lines, errors):
    try:
        entries = json.loads(lay.files["manifest.json"])
        for e in entries:
            lines.append("  docker manifest.json: RepoTags %s" % e.get("RepoTags"))
            cbytes = arch.read(e["Config"]) if arch else lay.files[e["Config"]]
            base = posixpath.basename(e["Config"]).split(".")[0]
            if len(base) == 64 and digest(cbytes) != "sha256:" + base:
                errors.append("docker config %s: content digest is %s" % (e["Config"], digest(cbytes)))
            cfg = json.loads(cbytes)
            if "index.json" in lay.files:
                continue      # Docker >= 25: the OCI checks above covered the layers
            lines.append("  config: %s %s/%s %s" % (digest(cbytes), cfg.get("os"), cfg.get("architecture"),
                                                     json.dumps(cfg.get("config", {}), sort_keys=True)))
            blobs = []
            for name in e["Layers"]:
                try:
                    blobs.append((name, None, arch.read(name) if arch else lay.files[name]))
                except (OciError, KeyError) as x:
                    errors.append("layer %s: %s" % (name, x))
                    blobs.append((name, None, None))
            _check_layers(blobs, cfg.get("rootfs", {}).get("diff_ids", []), lines, errors)
    except (OciError, ValueError, KeyError, TypeError) as e:
        errors.append("manifest.json: %s" % e)


# ---------------------------------------------------------------- breaking

def _layer_member(arch, lay, which):
    """The archive member name of layer `which` (index or digest)."""
    if "index.json" in lay.files:
        _, m = lay.manifest()
        names = [blob_path(l["digest"]) for l in m["layers"]]
        digests = [l["digest"] for l in m["layers"]]
    else:
        names = json.loads(lay.files["manifest.json"])[0]["Layers"]
        digests = []
    if isinstance(which, str) and which.startswith("sha256:"):
        matches = [n for n, d in zip(names, digests) if d.startswith(which)]
        if len(matches) != 1:
            raise OciError("%d layers match %s" % (len(matches), which))
        name = matches[0]
    else:
        name = names[int(which)]
    # Follow a symlink member to the file that holds the bytes.
    for _ in range(8):
        ti, _ = arch.by_name[_norm(name)]
        if not ti.issym():
            return _norm(name)
        name = posixpath.join(posixpath.dirname(_norm(name)), ti.linkname)
    raise OciError("symlink loop at %s" % name)


def break_archive(src, out, flip_layer=None, wrong_diffid=None, truncate=None, manifest_digest=False):
    """Write a copy of archive src with exactly one defect:

    flip_layer N|DIGEST  one byte of that layer blob inverted, in place (the
                         manifest and config untouched: digest mismatch for
                         OCI, diff_id mismatch for docker-save)
    wrong_diffid N       the config's diff_id N replaced; config, manifest and
                         index re-digested so that only the diff_id is wrong
    truncate BYTES       the file cut after BYTES (-1: in the middle of the
                         largest layer blob, so the index may still be read)
    manifest_digest      the manifest rewritten with its keys in another
                         order (same size, same meaning) under its old name:
                         only a digest check notices
    """
    with open(src, "rb") as f:
        data = f.read()
    arch = Archive(data)
    lay = Layout.from_archive(arch)
    if sum(x is not None and x is not False for x in (flip_layer, wrong_diffid, truncate, manifest_digest)) != 1:
        raise OciError("name exactly one defect")

    if flip_layer is not None or truncate is not None:
        if truncate is not None and truncate >= 0:
            write_file(out, data[:truncate])
            return
        if flip_layer is not None:
            name = _layer_member(arch, lay, flip_layer)
        else:   # the largest layer
            name = max((_layer_member(arch, lay, i) for i in range(_nlayers(lay))),
                       key=lambda n: arch.by_name[n][0].size)
        ti = arch.by_name[name][0]
        if ti.size == 0:
            raise OciError("%s is empty" % name)
        off = ti.offset_data + ti.size // 2
        if flip_layer is not None:
            buf = bytearray(data)
            buf[off] ^= 0xFF
            write_file(out, bytes(buf))
        else:
            write_file(out, data[:off])
        return

    by_name = {_norm(ti.name): m for m in arch.members for ti in [m[0]]}

    def replace(old, new_name, body):
        m = by_name[old]
        m[0] = copy.copy(m[0])
        m[0].name = new_name
        m[1] = body

    if manifest_digest:
        if "index.json" not in lay.files:
            raise OciError("--manifest-digest needs an OCI archive (docker-save has no manifest digest)")
        mdesc, m = lay.manifest()
        old = lay.blob(mdesc["digest"])
        # Keep the trailing newline Go's json.Encoder (umoci) leaves, so
        # the size stays right and only the digest differs.
        new = jdump(dict(reversed(list(m.items())))) + old[len(old.rstrip()):]
        if new == old or len(new) != len(old):
            new = old + b"\n"     # not compact JSON: a newline still changes the digest (and size)
        replace(blob_path(mdesc["digest"]), blob_path(mdesc["digest"]), new)
        write_file(out, write_members(arch.members))
        return

    # wrong_diffid
    n = int(wrong_diffid)
    if "index.json" in lay.files:
        mdesc, m = lay.manifest()
        cfg = json.loads(lay.blob(m["config"]["digest"]))
        cfg["rootfs"]["diff_ids"][n] = digest(b"not the layer limpet was given")
        cbytes = jdump(cfg)
        replace(blob_path(m["config"]["digest"]), blob_path(digest(cbytes)), cbytes)
        m["config"] = dict(m["config"], digest=digest(cbytes), size=len(cbytes))
        mbytes = jdump(m)
        replace(blob_path(mdesc["digest"]), blob_path(digest(mbytes)), mbytes)
        idx = lay.index()
        for d in idx["manifests"]:
            if d["digest"] == mdesc["digest"]:
                d.update(digest=digest(mbytes), size=len(mbytes))
        replace("index.json", by_name["index.json"][0].name, jdump(idx))
        if "manifest.json" in lay.files:
            dm = json.loads(lay.files["manifest.json"])
            dm[0]["Config"] = blob_path(digest(cbytes))
            replace("manifest.json", by_name["manifest.json"][0].name, jdump(dm))
    else:
        dm = json.loads(lay.files["manifest.json"])
        old = _norm(dm[0]["Config"])
        cfg = json.loads(arch.read(old))
        cfg["rootfs"]["diff_ids"][n] = digest(b"not the layer limpet was given")
        cbytes = jdump(cfg)
        dm[0]["Config"] = posixpath.join(posixpath.dirname(old), _hex(digest(cbytes)) + ".json")
        replace(old, dm[0]["Config"], cbytes)
        replace("manifest.json", by_name["manifest.json"][0].name, jdump(dm))
    write_file(out, write_members(arch.members))


def _nlayers(lay):
    if "index.json" in lay.files:
        return len(lay.manifest()[1]["layers"])
    return len(json.loads(lay.files["manifest.json"])[0]["Layers"])


# ---------------------------------------------------------------- small helpers

def extract_layer(spec, n):
    lay, ref, arch = load(spec)
    if "index.json" in lay.files:
        _, m = lay.manifest(ref)
        desc = m["layers"][n]
        return decompress(lay.blob(desc["digest"]), layer_kind(desc["mediaType"]))
    name = json.loads(lay.files["manifest.json"])[0]["Layers"][n]
    blob = arch.read(name) if arch else lay.files[name]
    return decompress(blob, sniff(blob))


def mklayer(specs):
    """A layer tar from specs, in the order given (parents are not implied):
      dir:PATH          directory 0755
      file:PATH=TEXT    regular file 0644
      exe:PATH=TEXT     regular file 0755
      sym:PATH=TARGET   symlink
      hard:PATH=TARGET  hardlink to an earlier entry
      wh:PATH           whiteout: DIR/.wh.NAME (empty file)
      opq:DIR           opaque whiteout: DIR/.wh..wh..opq
    Everything is owned by 0:0 and dated SOURCE_DATE_EPOCH.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for spec in specs:
            kind, _, rest = spec.partition(":")
            path, _, arg = rest.partition("=")
            ti, body = tarfile.TarInfo(path), b""
            ti.mtime, ti.mode = epoch(), 0o644
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind in ("file", "exe"):
                body = arg.encode()
                ti.mode = 0o755 if kind == "exe" else 0o644
            elif kind == "sym":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, arg, 0o777
            elif kind == "hard":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            elif kind == "wh":
                ti.name = posixpath.join(posixpath.dirname(path), ".wh." + posixpath.basename(path))
            elif kind == "opq":
                ti.name = posixpath.join(path, ".wh..wh..opq")
            else:
                raise OciError("unknown layer spec %r" % spec)
            ti.size = len(body)
            t.addfile(ti, io.BytesIO(body) if body else None)
    return buf.getvalue()


def retime(path, mtime):
    """Set every tar header's mtime in place (data untouched, same size), so
    that archives skopeo stamps with the current time can be reproduced
    byte for byte. Only plain ustar/GNU headers are patched: an archive with
    PAX time records is refused rather than half-fixed."""
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    off = 0
    while off + 512 <= len(buf):
        hdr = buf[off:off + 512]
        if hdr == bytes(512):
            break
        if hdr[156:157] in (b"x", b"g") and any(k in hdr_data(buf, off) for k in (b" mtime=", b" atime=", b" ctime=")):
            raise OciError("%s has PAX time records: not rewriting it" % path)
        if hdr[156:157] not in (b"x", b"g"):
            buf[off + 136:off + 148] = b"%011o\0" % mtime
        buf[off + 148:off + 156] = b" " * 8
        buf[off + 148:off + 156] = b"%06o\0 " % sum(buf[off:off + 512])
        size = int(hdr[124:136].rstrip(b"\0 ") or b"0", 8)
        off += 512 + (size + 511) // 512 * 512
    write_file(path, bytes(buf))


def hdr_data(buf, off):
    size = int(buf[off + 124:off + 136].rstrip(b"\0 ") or b"0", 8)
    return bytes(buf[off + 512:off + 512 + size])


# ---------------------------------------------------------------- CLI

def _kv(items):
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise OciError("expected KEY=VALUE, got %r" % item)
        out[k] = v
    return out


def _json_list(s):
    if s is None:
        return None
    v = json.loads(s)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise OciError("expected a JSON list of strings, got %r" % s)
    return v


def main(argv=None):
    p = argparse.ArgumentParser(prog="ocitool.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="command", required=True)

    def out_opts(sp, default_comp):
        sp.add_argument("--compression", choices=sorted(MT_LAYER), default=default_comp,
                        help="layer compression (default %s; docker formats default to none)" % default_comp)
        sp.add_argument("--format", choices=["oci", "docker", "docker-oci"], default="oci")
        sp.add_argument("--order", choices=["blobs-first", "index-first"], default="blobs-first")
        sp.add_argument("--layout-dir", action="store_true", help="write an OCI layout directory, not a tar")
        sp.add_argument("--ref", default="latest", help="org.opencontainers.image.ref.name (default latest)")
        sp.add_argument("--repo-tag", default="limpet/test:latest", help="docker RepoTags entry")

    b = sub.add_parser("build", help="assemble an image from layer tars")
    b.add_argument("out")
    b.add_argument("--layer", action="append", default=[], required=True, help="uncompressed layer tar (repeat)")
    out_opts(b, None)
    b.add_argument("--entrypoint", help='JSON list, e.g. \'["/bin/sh","-c"]\'')
    b.add_argument("--cmd", help="JSON list")
    b.add_argument("--env", action="append", help="K=V (repeat)")
    b.add_argument("--workdir")
    b.add_argument("--user")
    b.add_argument("--label", action="append", help="K=V (repeat)")
    b.add_argument("--arch", default=None, help="GOARCH name (default: the host's, %s)" % host_arch())
    b.add_argument("--os", default="linux")
    b.add_argument("--variant", help="CPU variant in the config (v7, v8...)")

    ix = sub.add_parser("index", help="a multi-platform image from single-platform ones")
    ix.add_argument("out")
    ix.add_argument("--image", action="append", required=True, help="FILE[:REF] or DIR[:REF] (repeat)")
    ix.add_argument("--layout-dir", action="store_true", help="write an OCI layout directory, not a tar")
    ix.add_argument("--order", choices=["blobs-first", "index-first"], default="blobs-first")
    ix.add_argument("--ref", default="latest", help="org.opencontainers.image.ref.name (default latest)")

    r = sub.add_parser("recompress", help="same image, layers recompressed")
    r.add_argument("src")
    r.add_argument("out")
    out_opts(r, "gzip")

    k = sub.add_parser("break", help="a copy of an archive with one defect")
    k.add_argument("src")
    k.add_argument("out")
    g = k.add_mutually_exclusive_group(required=True)
    g.add_argument("--flip-layer", metavar="N|DIGEST")
    g.add_argument("--wrong-diffid", metavar="N", type=int)
    g.add_argument("--truncate", metavar="BYTES", type=int, nargs="?", const=-1)
    g.add_argument("--manifest-digest", action="store_true")

    c = sub.add_parser("check", help="verify digests, sizes and diff_ids; exit 1 on any problem")
    c.add_argument("src")
    c.add_argument("-q", "--quiet", action="store_true")

    e = sub.add_parser("extract-layer", help="write one layer, uncompressed")
    e.add_argument("src")
    e.add_argument("n", type=int)
    e.add_argument("out")

    ml = sub.add_parser("mklayer", help="a layer tar from specs", description=mklayer.__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ml.add_argument("out")
    ml.add_argument("spec", nargs="+")

    t = sub.add_parser("retime", help="set every header mtime of a tar, in place")
    t.add_argument("file")
    t.add_argument("--mtime", type=int, default=None, help="default SOURCE_DATE_EPOCH or 0")

    a = p.parse_args(argv)
    try:
        if a.command in ("build", "recompress"):
            if a.command == "build":
                layers = []
                for path in a.layer:
                    with open(path, "rb") as f:
                        layers.append(f.read())
                comp = a.compression or ("gzip" if a.format == "oci" else "none")
                lay = build_image(layers, comp, ref=a.ref, entrypoint=_json_list(a.entrypoint),
                                  cmd=_json_list(a.cmd), env=["%s=%s" % kv for kv in _kv(a.env).items()],
                                  workdir=a.workdir, user=a.user, labels=_kv(a.label), arch=a.arch,
                                  os_name=a.os, variant=a.variant)
            else:
                src, ref, _ = load(a.src)
                lay = recompress(src, a.compression, ref, a.ref)
            if a.layout_dir:
                if a.format != "oci":
                    raise OciError("--layout-dir writes OCI layouts only")
                write_layout_dir(lay, a.out)
            else:
                write_image(lay, a.out, a.format, a.order, a.repo_tag)
        elif a.command == "index":
            lay = build_index(a.image, a.ref)
            if a.layout_dir:
                write_layout_dir(lay, a.out)
            else:
                write_oci(lay, a.out, a.order)
        elif a.command == "break":
            flip = a.flip_layer
            if flip is not None and not flip.startswith("sha256:"):
                flip = int(flip)
            break_archive(a.src, a.out, flip, a.wrong_diffid, a.truncate, a.manifest_digest)
        elif a.command == "check":
            lines, errors = check(a.src)
            if not a.quiet:
                print("%s:" % a.src)
                for line in lines:
                    print(line)
            for err in errors:
                print("%s: %s" % (a.src, err), file=sys.stderr)
            return 1 if errors else 0
        elif a.command == "extract-layer":
            data = extract_layer(a.src, a.n)
            if a.out == "-":
                sys.stdout.buffer.write(data)
            else:
                write_file(a.out, data)
        elif a.command == "mklayer":
            write_file(a.out, mklayer(a.spec))
        elif a.command == "retime":
            retime(a.file, epoch() if a.mtime is None else a.mtime)
    except (OciError, OSError, ValueError, KeyError, IndexError) as e:
        print("ocitool: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
