#!/usr/bin/env python3
"""The filter as an OCI image for Istio, written as an OCI image-layout directory.

The image is the "compat" variant of the Wasm image specification that Istio's image
fetcher reads (istio/istio pkg/wasm/imagefetcher.go, extractOCIStandardImage; the spec
is solo-io/wasm spec/spec-compat.md):
  - an OCI image manifest (application/vnd.oci.image.manifest.v1+json) annotated
    `module.wasm.image/variant: compat`;
  - exactly one layer, application/vnd.oci.image.layer.v1.tar+gzip: a gzip'd tar holding
    one regular file, `plugin.wasm` (Istio takes the last layer, gunzips it and reads
    the first entry whose base name is `plugin.wasm`);
  - an OCI image config (application/vnd.oci.image.config.v1+json), os wasip1,
    architecture wasm, whose rootfs.diff_ids name the uncompressed tar.
For an oci:// url, Istio compares a WasmPlugin's or TrafficExtension's `sha256` with the
digest of this manifest (cache.go: `dChecksum` is `img.Digest().Hex`), not with the
.wasm's checksum: that is the digest `verify` prints and `render.py istio` pins.

Deterministic: tar entry mtime, uid and gid 0, no owner names, mode 0644; gzip mtime 0,
no file name; JSON with sorted keys and no spaces. The tag is only in index.json
(`org.opencontainers.image.ref.name`), so the manifest digest depends on the .wasm bytes
alone (and on zlib's deflate output at level 9, the same for a given zlib).

usage: oci_image.py build --wasm F.wasm --out DIR [--tag TAG]
            write the layout DIR (replacing an earlier layout there); print the digest
       oci_image.py verify DIR [--wasm F.wasm] [--tag TAG]
            re-read DIR: every blob's digest and size, the manifest, the config, a layer
            holding exactly `plugin.wasm` (equal to F.wasm when given), the tag; print
            the manifest digest (`sha256:…`); exit 1 naming what is wrong

TAG defaults to the tag of render.OCI_IMAGE. Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import struct
import sys
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import render  # noqa: E402  (OCI_IMAGE: the repository and tag the manifests name)

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
VARIANT = "module.wasm.image/variant"
WASM_FILE = "plugin.wasm"
WASM_MAGIC = b"\0asm"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}


class Invalid(Exception):
    """The layout is not the image Istio reads; the message says where and what."""


def default_tag() -> str:
    """The tag of render.OCI_IMAGE (oci://REGISTRY/REPOSITORY:TAG)."""
    return render.OCI_IMAGE.rsplit(":", 1)[1]


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, annotations: dict | None = None) -> dict:
    d = {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d


def tar_bytes(files: list[tuple[str, bytes]]) -> bytes:
    """A ustar archive of regular files, owned by 0:0, mode 0644, mtime 0."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip (RFC 1952) with a fixed header: no name, mtime 0, XFL 2 (level 9), OS 255."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


@dataclass
class Image:
    """The blobs of one image (digest -> bytes) and the index that tags its manifest."""

    blobs: dict[str, bytes]
    manifest: dict
    manifest_digest: str
    index: dict


def compose(layers: list[tuple[str, bytes, bytes]], tag: str, *, annotations: dict | None = None,
            config: dict | None = None) -> Image:
    """An image from its layers, each (media type, blob, uncompressed tar). The default
    manifest annotations and config are the compat variant's; the self-test of
    validate_deploy.py passes others to build broken images."""
    if config is None:
        config = {
            "architecture": "wasm",
            "os": "wasip1",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar) for _, _, tar in layers]},
        }
    config_blob = canonical_json(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": descriptor(CONFIG_TYPE, config_blob),
        "layers": [descriptor(media_type, blob) for media_type, blob, _ in layers],
        "annotations": {VARIANT: "compat"} if annotations is None else annotations,
    }
    blobs = {sha256_digest(config_blob): config_blob}
    for _, blob, _ in layers:
        blobs[sha256_digest(blob)] = blob
    return with_manifest(Image(blobs, {}, "", {}), manifest, tag)


def with_manifest(image: Image, manifest: dict, tag: str) -> Image:
    """`image` with `manifest` (serialised, digested, tagged in the index) in place of its own."""
    blobs = {d: b for d, b in image.blobs.items() if d != image.manifest_digest}
    manifest_blob = canonical_json(manifest)
    digest = sha256_digest(manifest_blob)
    blobs[digest] = manifest_blob
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [descriptor(MANIFEST_TYPE, manifest_blob, {REF_NAME: tag})],
    }
    return Image(blobs, manifest, digest, index)


def compat_image(wasm: bytes, tag: str) -> Image:
    """The image Istio reads: one tar+gzip layer holding only `plugin.wasm`."""
    if not wasm.startswith(WASM_MAGIC):
        raise Invalid("the filter is not a WebAssembly module (no \\0asm magic)")
    tar = tar_bytes([(WASM_FILE, wasm)])
    return compose([(LAYER_TYPE, gzip_bytes(tar), tar)], tag)


def write(image: Image, out: Path) -> None:
    """Writes the layout to `out`, replacing an earlier layout there (never another
    directory): the new one is written beside it and renamed into place."""
    if out.exists() and not (out / "oci-layout").is_file():
        raise Invalid(f"{out} exists and is not an OCI image layout: not replacing it")
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "blobs" / "sha256").mkdir(parents=True)
    for digest, blob in sorted(image.blobs.items()):
        (tmp / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(blob)
    (tmp / "oci-layout").write_bytes(canonical_json(LAYOUT_VERSION) + b"\n")
    (tmp / "index.json").write_bytes(canonical_json(image.index) + b"\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


# --- verify ------------------------------------------------------------------------------


def verify(layout: Path, wasm: bytes | None = None, tag: str | None = None) -> str:
    """Checks the layout is the compat image (see the module doc); returns the manifest
    digest. `wasm`: the layer's plugin.wasm must be these bytes; `tag`: the index must
    name the manifest so (default: default_tag())."""
    tag = tag or default_tag()

    def fail(where: str, message: str):
        raise Invalid(f"{layout}/{where}: {message}")

    def read_json(where: str, data: bytes):
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            fail(where, f"not JSON: {e}")

    referenced: set[str] = set()

    def blob(desc, where: str, media_type: str) -> bytes:
        if not isinstance(desc, dict):
            fail(where, "not a descriptor")
        if desc.get("mediaType") != media_type:
            fail(where, f"mediaType is {desc.get('mediaType')!r}, must be {media_type}")
        digest, size = desc.get("digest"), desc.get("size")
        if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71:
            fail(where, f"digest {digest!r} is not sha256:<64 hex digits>")
        if not isinstance(size, int) or isinstance(size, bool):
            fail(where, f"size {size!r} is not an integer")
        path = layout / "blobs" / "sha256" / digest[7:]
        if not path.is_file():
            fail(where, f"blob {digest} is missing (blobs/sha256/{digest[7:]})")
        data = path.read_bytes()
        if sha256_digest(data) != digest:
            fail(f"blobs/sha256/{digest[7:]}", f"content has digest {sha256_digest(data)}, not its name {digest}")
        if len(data) != size:
            fail(f"blobs/sha256/{digest[7:]}", f"size {len(data)}, but {where} says {size}")
        referenced.add(digest[7:])
        return data

    if not (layout / "oci-layout").is_file():
        fail("oci-layout", "missing: not an OCI image layout")
    if read_json("oci-layout", (layout / "oci-layout").read_bytes()) != LAYOUT_VERSION:
        fail("oci-layout", f"must be {json.dumps(LAYOUT_VERSION)}")
    if not (layout / "index.json").is_file():
        fail("index.json", "missing")
    index = read_json("index.json", (layout / "index.json").read_bytes())
    if not isinstance(index, dict) or index.get("schemaVersion") != 2 or index.get("mediaType") != INDEX_TYPE:
        fail("index.json", f"must be an image index (schemaVersion 2, mediaType {INDEX_TYPE})")
    manifests = index.get("manifests")
    if not isinstance(manifests, list) or len(manifests) != 1:
        fail("index.json", "must list exactly one manifest (the filter's image)")
    ref = (manifests[0].get("annotations") or {}).get(REF_NAME) if isinstance(manifests[0], dict) else None
    if ref != tag:
        fail("index.json", f"the manifest's {REF_NAME} is {ref!r}, not the tag {tag!r}")

    manifest_blob = blob(manifests[0], "index.json manifests[0]", MANIFEST_TYPE)
    manifest = read_json("manifest", manifest_blob)
    where = f"manifest {manifests[0]['digest']}"
    if not isinstance(manifest, dict) or manifest.get("schemaVersion") != 2 or manifest.get("mediaType") != MANIFEST_TYPE:
        fail(where, f"must be an image manifest (schemaVersion 2, mediaType {MANIFEST_TYPE})")
    if (manifest.get("annotations") or {}).get(VARIANT) != "compat":
        fail(where, f"annotation {VARIANT} must be `compat` (the Wasm image spec's compat variant)")
    layers = manifest.get("layers")
    if not isinstance(layers, list) or len(layers) != 1:
        fail(where, f"must have exactly one layer (the compat variant), not {len(layers) if isinstance(layers, list) else layers!r}")
    config = read_json("config", blob(manifest.get("config"), f"{where} config", CONFIG_TYPE))
    layer = blob(layers[0], f"{where} layers[0]", LAYER_TYPE)

    if layer[:2] != b"\x1f\x8b":
        fail(f"{where} layers[0]", "is not gzip")
    try:
        tar = zlib.decompress(layer, 16 + zlib.MAX_WBITS)
    except zlib.error as e:
        fail(f"{where} layers[0]", f"is not valid gzip: {e}")
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
            members = archive.getmembers()
            names = [m.name for m in members]
            if names != [WASM_FILE] or not members[0].isreg():
                fail(f"{where} layers[0]", f"must hold exactly one regular file `{WASM_FILE}`, not {names}")
            content = archive.extractfile(members[0]).read()
    except tarfile.TarError as e:
        fail(f"{where} layers[0]", f"is not a tar archive: {e}")
    if not content.startswith(WASM_MAGIC):
        fail(f"{where} layers[0] {WASM_FILE}", "is not a WebAssembly module (no \\0asm magic)")
    if wasm is not None and content != wasm:
        fail(f"{where} layers[0] {WASM_FILE}", f"differs from the given filter (sha256 {hashlib.sha256(content).hexdigest()}, "
             f"the filter's {hashlib.sha256(wasm).hexdigest()})")

    rootfs = config.get("rootfs") if isinstance(config, dict) else None
    if not isinstance(config, dict) or not config.get("os") or not config.get("architecture"):
        fail(f"{where} config", "must name `os` and `architecture`")
    if not isinstance(rootfs, dict) or rootfs.get("type") != "layers" or rootfs.get("diff_ids") != [sha256_digest(tar)]:
        fail(f"{where} config", f"rootfs.diff_ids must be [{sha256_digest(tar)}] (the uncompressed layer)")

    stray = sorted({p.name for p in (layout / "blobs" / "sha256").iterdir()} - referenced)
    if stray:
        fail("blobs/sha256", f"blobs the image does not reference: {', '.join(stray)}")
    return manifests[0]["digest"]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="oci_image.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the layout")
    b.add_argument("--wasm", required=True, type=Path)
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--tag", default=default_tag())
    v = sub.add_parser("verify", help="check a layout, print its manifest digest")
    v.add_argument("layout", type=Path)
    v.add_argument("--wasm", type=Path)
    v.add_argument("--tag", default=default_tag())
    a = ap.parse_args(argv[1:])
    try:
        if a.command == "build":
            image = compat_image(a.wasm.read_bytes(), a.tag)
            write(image, a.out)
            digest = verify(a.out, a.wasm.read_bytes(), a.tag)
            print(f"oci_image.py: wrote {a.out} ({a.tag}, manifest {digest})", file=sys.stderr)
        else:
            digest = verify(a.layout, a.wasm.read_bytes() if a.wasm else None, a.tag)
    except (Invalid, OSError) as e:
        print(f"oci_image.py: {e}", file=sys.stderr)
        return 1
    print(digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
