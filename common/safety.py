"""Upload and path safety: what a service may read, and what it accepts from the network.

* :func:`resolve_in_roots` – a server path for ``/load`` must resolve (symlinks included) inside
  one of ``DATA_ROOTS``; anything else is :class:`~common.errors.Forbidden`.
* :func:`sniff` – the kind of a file from its first bytes, never from its name.
* :func:`extract_zip` – archive extraction with limits on members, total size and compression
  ratio, refusing absolute paths, ``..``, symlinks and device files.
* :func:`safe_name` – a file name fit to store on disk (no separators, no control characters).
"""

from __future__ import annotations

import logging
import re
import shutil
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import BadRequest, Forbidden, NotFound, PayloadTooLarge

log = logging.getLogger(__name__)

#: bytes read to sniff a file's kind
SNIFF_BYTES = 64


def resolve_in_roots(path: str | Path, roots: list[Path]) -> Path:
    """Resolve ``path`` (symlinks included) and check it lies inside one of ``roots``."""
    raw = str(path)
    if not raw or "\x00" in raw:
        raise BadRequest("path must be a non-empty string")
    try:
        resolved = Path(raw).expanduser().resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops, permission errors
        raise BadRequest(f"cannot resolve {raw!r}: {exc}") from exc
    if not any(resolved.is_relative_to(root.expanduser().resolve()) for root in roots):
        raise Forbidden(f"{raw!r} is outside the configured data roots (DATA_ROOTS)")
    if not resolved.exists():
        raise NotFound(f"{raw!r} does not exist")
    return resolved


def sniff(head: bytes) -> str:
    """The kind of content from its first bytes.

    Returns one of ``zip``, ``jpeg``, ``png``, ``gif``, ``webp``, ``bmp``, ``tiff``, ``avi``,
    ``mp4``, ``mkv`` (Matroska and WebM), ``text`` (decodes as UTF-8, no NUL bytes) or ``binary``.
    """
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:2] == b"BM" and len(head) >= 14:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "mkv"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError as exc:
            # a multi-byte character cut by the sniff window is still text
            if exc.start >= len(head) - 3:
                return "text"
    return "binary"


def sniff_file(path: Path) -> str:
    with path.open("rb") as fh:
        return sniff(fh.read(SNIFF_BYTES))


_UNSAFE = re.compile(r"[^\w.\- ()+@]+", re.UNICODE)


def safe_name(name: str, fallback: str = "file") -> str:
    """A single path component derived from a client-supplied name."""
    name = unicodedata.normalize("NFC", name or "")
    name = PurePosixPath(name.replace("\\", "/")).name
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:200] or fallback


@dataclass(frozen=True)
class ZipLimits:
    max_members: int
    max_total_bytes: int
    max_ratio: int


def extract_zip(archive: Path, dest: Path, limits: ZipLimits) -> list[Path]:
    """Extract ``archive`` into ``dest`` after checking every member; returns extracted files.

    Refuses (400) absolute paths, ``..`` components, symlinks and special files; refuses (413)
    archives with too many members, too many uncompressed bytes or a suspicious compression
    ratio (zip bombs). Sizes are enforced while writing too, not only trusted from the headers.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadRequest(f"{archive.name} is not a readable zip archive: {exc}") from exc
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > limits.max_members:
            raise PayloadTooLarge(f"archive has {len(members)} files; the limit is {limits.max_members}")
        declared = sum(m.file_size for m in members)
        if declared > limits.max_total_bytes:
            raise PayloadTooLarge(f"archive expands to {declared} bytes; the limit is {limits.max_total_bytes}")
        compressed = max(sum(m.compress_size for m in members), 1)
        if declared > 1024 * 1024 and declared / compressed > limits.max_ratio:
            raise PayloadTooLarge(
                f"archive compression ratio {declared / compressed:.0f}:1 exceeds {limits.max_ratio}:1"
            )
        targets = [(m, _member_target(m, dest)) for m in members]
        dest.mkdir(parents=True, exist_ok=True)
        written_total = 0
        extracted: list[Path] = []
        try:
            for member, target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, target.open("wb") as out:
                    written_total += _copy_limited(src, out, member.file_size)
                if written_total > limits.max_total_bytes:
                    raise PayloadTooLarge("archive expands beyond its declared size")
                extracted.append(target)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise BadRequest(f"{archive.name} is corrupt: {exc}") from exc
        except PayloadTooLarge:
            shutil.rmtree(dest, ignore_errors=True)
            raise
    return extracted


def _member_target(member: zipfile.ZipInfo, dest: Path) -> Path:
    name = member.filename.replace("\\", "/")
    file_type = stat.S_IFMT(member.external_attr >> 16)  # 0 when the archiver recorded no type
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        raise BadRequest(f"archive member {name!r} is a link or special file")
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name:
        raise BadRequest(f"archive member {name!r} has an unsafe path")
    safe_parts = [safe_name(p) for p in parts]
    target = dest.joinpath(*safe_parts)
    if not target.resolve().is_relative_to(dest.resolve()):
        raise BadRequest(f"archive member {name!r} escapes the extraction directory")
    return target


def _copy_limited(src: IO[bytes], out: IO[bytes], limit: int) -> int:
    written = 0
    while chunk := src.read(1 << 20):
        written += len(chunk)
        if written > limit:
            raise PayloadTooLarge("archive member is larger than its header says")
        out.write(chunk)
    return written
