#!/usr/bin/env python3
"""Builds the egresswatch container image without a registry or a container daemon.

The image is one layer: the binary, exactly the shared libraries `ldd` lists for it (and the
dynamic loader), the CA bundle, /etc/passwd and /etc/group for the non-root user 65532, /tmp and
a writable /var/lib/egresswatch. No base image is pulled. The output is deterministic (sorted
entries, mtime 0, uid/gid fixed), so the same binary always gives the same image digest.

    build_image.py --binary target/release/egresswatch --out target/image [--tag egresswatch:dev]
                   [--no-strip] [--no-compress]

writes OUT/oci/ (an OCI image layout: oci-layout, index.json, blobs/sha256/...) and OUT/image.tar,
the same layout as one archive with a Docker `manifest.json` added, which `docker load`,
`podman load` and `skopeo copy oci-archive:OUT/image.tar docker://REGISTRY/egresswatch:TAG` read.
Linux/ELF binaries only (the architecture is read from the ELF header).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

UID = GID = 65532
CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"]
ELF_MACHINES = {0x3E: "amd64", 0xB7: "arm64"}


class BuildError(Exception):
    pass


def elf_arch(path):
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF":
        raise BuildError(f"{path} is not an ELF binary")
    little = head[5] == 1
    machine = int.from_bytes(head[18:20], "little" if little else "big")
    if machine not in ELF_MACHINES:
        raise BuildError(f"{path}: unsupported ELF machine 0x{machine:x}")
    return ELF_MACHINES[machine]


def shared_libraries(binary):
    """(path in the image, path on this machine) of every library ldd resolves, loader included."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True)
    text = out.stdout + out.stderr
    if "statically linked" in text or "not a dynamic executable" in text:
        return []
    if out.returncode != 0:
        raise BuildError(f"ldd {binary}: {text.strip()}")
    libs = []
    for line in text.splitlines():
        line = line.strip()
        if "not found" in line:
            raise BuildError(f"ldd {binary}: missing library: {line}")
        m = re.match(r"^\S+ => (/\S+) \(0x[0-9a-f]+\)$", line) or re.match(
            r"^(/\S+) \(0x[0-9a-f]+\)$", line
        )
        if m:
            libs.append((m.group(1), os.path.realpath(m.group(1))))
        elif line and not line.startswith("linux-vdso") and not line.startswith("linux-gate"):
            raise BuildError(f"ldd {binary}: cannot read line: {line}")
    return libs


def add_dir(tar, name, mode=0o755, uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 0
    tar.addfile(info)


def add_bytes(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    tar.addfile(info, io.BytesIO(data))


def add_file(tar, name, src, mode):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = os.path.getsize(src), mode, 0
    with open(src, "rb") as f:
        tar.addfile(info, f)


def layer_tar(binary, libs, ca_bundle):
    """The root filesystem as an uncompressed tar (bytes on disk, returned as a path)."""
    files = {"usr/local/bin/egresswatch": (binary, 0o755)}
    for image_path, host_path in libs:
        files[image_path.lstrip("/")] = (host_path, 0o755)
    if ca_bundle:
        files["etc/ssl/certs/ca-certificates.crt"] = (ca_bundle, 0o644)
    generated = {
        "etc/passwd": f"root:x:0:0:root:/root:/sbin/nologin\n"
        f"nonroot:x:{UID}:{GID}:egresswatch:/var/lib/egresswatch:/sbin/nologin\n",
        "etc/group": f"root:x:0:\nnonroot:x:{GID}:\n",
    }
    dirs = {"tmp", "var", "var/lib", "var/lib/egresswatch"}
    for name in list(files) + list(generated):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))

    fd, path = tempfile.mkstemp(suffix=".tar")
    os.close(fd)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in sorted(dirs):
            if d == "tmp":
                add_dir(tar, d, 0o1777)
            elif d == "var/lib/egresswatch":
                add_dir(tar, d, 0o750, UID, GID)
            else:
                add_dir(tar, d)
        for name in sorted(set(files) | set(generated)):
            if name in generated:
                add_bytes(tar, name, generated[name].encode())
            else:
                src, mode = files[name]
                add_file(tar, name, src, mode)
    return path


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build(binary, out, tag, strip, compress):
    arch = elf_arch(binary)
    libs = shared_libraries(binary)
    ca_bundle = next((p for p in CA_BUNDLES if os.path.exists(p)), None)
    work = tempfile.mkdtemp()
    try:
        src = binary
        if strip and shutil.which("strip"):
            # Debug info is most of a debug build's size and none of its function; symbols stay
            # for backtraces.
            src = os.path.join(work, "egresswatch")
            subprocess.run(["strip", "--strip-debug", "-o", src, binary], check=True)
        raw = layer_tar(src, libs, ca_bundle)
        diff_id = sha256_file(raw)

        oci = os.path.join(out, "oci")
        if os.path.exists(oci):
            shutil.rmtree(oci)
        blobs = os.path.join(oci, "blobs", "sha256")
        os.makedirs(blobs)

        def put(data_path_or_bytes):
            if isinstance(data_path_or_bytes, bytes):
                digest = hashlib.sha256(data_path_or_bytes).hexdigest()
                with open(os.path.join(blobs, digest), "wb") as f:
                    f.write(data_path_or_bytes)
                return digest, len(data_path_or_bytes)
            digest = sha256_file(data_path_or_bytes)
            shutil.move(data_path_or_bytes, os.path.join(blobs, digest))
            return digest, os.path.getsize(os.path.join(blobs, digest))

        if compress:
            gz = raw + ".gz"
            with open(raw, "rb") as fin, open(gz, "wb") as fout:
                # mtime=0 and no file name keep the compressed blob reproducible too.
                with gzip.GzipFile(filename="", mode="wb", fileobj=fout, mtime=0, compresslevel=6) as z:
                    shutil.copyfileobj(fin, z, 1 << 20)
            os.remove(raw)
            layer_digest, layer_size = put(gz)
            layer_type = "application/vnd.oci.image.layer.v1.tar+gzip"
        else:
            layer_digest, layer_size = put(raw)
            layer_type = "application/vnd.oci.image.layer.v1.tar"

        config = {
            "architecture": arch,
            "os": "linux",
            "config": {
                "User": f"{UID}:{GID}",
                "Entrypoint": ["/usr/local/bin/egresswatch"],
                "Cmd": ["--help"],
                "WorkingDir": "/var/lib/egresswatch",
                "Env": [
                    "PATH=/usr/local/bin",
                    "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
                ],
                "ExposedPorts": {"9464/tcp": {}},
                "Labels": {
                    "org.opencontainers.image.title": "egresswatch",
                    "org.opencontainers.image.description": "SageMaker egress findings from VPC flow logs",
                },
            },
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
            "history": [{"created_by": "deploy/container/build_image.py", "created": "1970-01-01T00:00:00Z"}],
            "created": "1970-01-01T00:00:00Z",
        }
        config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        config_digest, config_size = put(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": f"sha256:{config_digest}",
                "size": config_size,
            },
            "layers": [{"mediaType": layer_type, "digest": f"sha256:{layer_digest}", "size": layer_size}],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        manifest_digest, manifest_size = put(manifest_bytes)
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": f"sha256:{manifest_digest}",
                    "size": manifest_size,
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {"org.opencontainers.image.ref.name": tag.split(":")[-1], "io.containerd.image.name": tag},
                }
            ],
        }
        with open(os.path.join(oci, "index.json"), "w") as f:
            json.dump(index, f, sort_keys=True, separators=(",", ":"))
        with open(os.path.join(oci, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

        # The same layout as one archive, plus the manifest.json `docker load` reads.
        docker_manifest = [
            {
                "Config": f"blobs/sha256/{config_digest}",
                "RepoTags": [tag],
                "Layers": [f"blobs/sha256/{layer_digest}"],
            }
        ]
        archive = os.path.join(out, "image.tar")
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
            for name in ["oci-layout", "index.json"]:
                add_file(tar, name, os.path.join(oci, name), 0o644)
            add_bytes(tar, "manifest.json", json.dumps(docker_manifest).encode())
            add_dir(tar, "blobs")
            add_dir(tar, "blobs/sha256")
            for digest in sorted(os.listdir(blobs)):
                add_file(tar, f"blobs/sha256/{digest}", os.path.join(blobs, digest), 0o644)
        summary = {
            "architecture": arch,
            "manifest_digest": f"sha256:{manifest_digest}",
            "layer_digest": f"sha256:{layer_digest}",
            "layer_size": layer_size,
            "libraries": [p for p, _ in libs],
            "ca_bundle": bool(ca_bundle),
            "oci_layout": oci,
            "archive": archive,
            "tag": tag,
        }
        print(json.dumps(summary))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tag", default="egresswatch:latest")
    p.add_argument("--no-strip", action="store_true")
    p.add_argument("--no-compress", action="store_true")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    try:
        build(a.binary, a.out, a.tag, not a.no_strip, not a.no_compress)
    except (BuildError, OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"build_image: {e}")


if __name__ == "__main__":
    main()
