"""Build real, tiny wheels and sdists for tests, byte for byte as a build backend would.

A wheel gets a ``*.dist-info`` with METADATA, WHEEL and a RECORD that lists every member with
its hash (PEP 427); an sdist gets ``PKG-INFO`` and a ``pyproject.toml`` (PEP 625 file name).
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Dist:
    """What a test package is made of: its name, version and core metadata."""

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    summary: str = "A tiny package built by the tests."
    description: str = ""
    extra_metadata: tuple[tuple[str, str], ...] = ()
    module_body: str = ""
    padding: int = 0  # bytes of incompressible data added to the package, for large files
    tag: str = "py3-none-any"
    extra_files: dict[str, bytes] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")

    @property
    def wheel_filename(self) -> str:
        return f"{self.module}-{self.version}-{self.tag}.whl"

    @property
    def sdist_filename(self) -> str:
        return f"{self.module}-{self.version}.tar.gz"

    def metadata(self, metadata_version: str = "2.3") -> bytes:
        lines = [
            f"Metadata-Version: {metadata_version}",
            f"Name: {self.name}",
            f"Version: {self.version}",
            f"Summary: {self.summary}",
        ]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Requires-Dist: {req}" for req in self.requires_dist]
        lines += [f"{key}: {value}" for key, value in self.extra_metadata]
        if self.description:
            lines.append("Description-Content-Type: text/markdown")
        text = "\n".join(lines) + "\n"
        if self.description:
            text += "\n" + self.description + "\n"
        return text.encode()

    def module_source(self) -> bytes:
        body = self.module_body or f'__version__ = "{self.version}"\n'
        return body.encode()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def _padding(dist: Dist) -> dict[str, bytes]:
    if not dist.padding:
        return {}
    # A deterministic, incompressible stream: sha256 in counter mode.
    chunks = []
    counter = 0
    size = 0
    seed = f"{dist.name}-{dist.version}".encode()
    while size < dist.padding:
        block = hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        chunks.append(block)
        size += len(block)
        counter += 1
    return {f"{dist.module}/_padding.bin": b"".join(chunks)[: dist.padding]}


def wheel_bytes(dist: Dist) -> bytes:
    """The bytes of a valid wheel of ``dist``."""
    dist_info = f"{dist.module}-{dist.version}.dist-info"
    members: dict[str, bytes] = {f"{dist.module}/__init__.py": dist.module_source()}
    members.update(_padding(dist))
    members.update(dist.extra_files)
    members[f"{dist_info}/METADATA"] = dist.metadata()
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: stilton-tests\nRoot-Is-Purelib: true\nTag: {dist.tag}\n"
    ).encode()
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in members.items())
    record += f"{dist_info}/RECORD,,\n"
    members[f"{dist_info}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            info = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def sdist_bytes(dist: Dist) -> bytes:
    """The bytes of a valid sdist (``.tar.gz``) of ``dist``, buildable with hatchling."""
    root = f"{dist.module}-{dist.version}"
    pyproject = (
        "[build-system]\n"
        'requires = ["hatchling"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[project]\n"
        f'name = "{dist.name}"\n'
        f'version = "{dist.version}"\n'
    )
    members: dict[str, bytes] = {
        f"{root}/PKG-INFO": dist.metadata(),
        f"{root}/pyproject.toml": pyproject.encode(),
        f"{root}/{dist.module}/__init__.py": dist.module_source(),
    }
    members.update({f"{root}/{path}": data for path, data in _padding(dist).items()})
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1704067200
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_wheel(dist: Dist, directory: Path) -> Path:
    path = directory / dist.wheel_filename
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wheel_bytes(dist))
    return path


def write_sdist(dist: Dist, directory: Path) -> Path:
    path = directory / dist.sdist_filename
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sdist_bytes(dist))
    return path
