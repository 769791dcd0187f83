"""Path and archive safety: what a service may read, and what it accepts from the network.

* :func:`resolve_in_roots` – a server path for ``/load`` must resolve (symlinks included) inside one of
  ``DATA_ROOTS``; anything else is :class:`~common.errors.Forbidden`.
* :func:`extract_zip` – archive extraction under an :class:`ExpansionBudget` shared by every archive of one
  request (bytes written, members, archives, and a per-member compression ratio), counted while writing,
  refusing absolute paths, ``..``, links and special files. A refused archive leaves nothing behind.
* :func:`safe_name` / :func:`unique_path` – a file name fit to store on disk, made unique in its folder.

Every refusal is a 4xx :class:`~common.errors.BootcampError`; no ``OSError`` escapes as a 500.
"""

from __future__ import annotations

import logging
import os
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
from .files import is_skipped_name

log = logging.getLogger(__name__)

#: members smaller than this are not held to the compression-ratio limit (tiny files compress oddly)
RATIO_FLOOR_BYTES = 1 << 20
#: an archive expanding to more than this is held to the compression-ratio limit as a whole, too: many members
#: each under RATIO_FLOOR_BYTES (2,000 MB of zeros in a 2 MB zip) otherwise passed it one by one
ARCHIVE_RATIO_FLOOR_BYTES = 64 << 20
MAX_NAME_CHARS = 200


def resolve_in_roots(path: str | Path, roots: list[Path]) -> Path:
    """Resolve ``path`` (symlinks included) and check it lies inside one of ``roots``.

    A relative path is taken from the server's working folder (``data/photos`` beside the default root
    ``./data``) and, failing that, from each root in turn: ``photos`` means ``<root>/photos``. The first that
    exists inside a root wins.
    """
    raw = str(path)
    if not raw or "\x00" in raw:
        raise BadRequest("path must be a non-empty string")
    allowed = ", ".join(str(r) for r in roots)
    try:
        given = Path(raw).expanduser()
        resolved_roots = [root.expanduser().resolve() for root in roots]
        # each place the path may mean, as written (links not followed) and resolved
        written = [Path(os.path.abspath(given))] + ([] if given.is_absolute() else [Path(os.path.abspath(root / given))
                                                                                  for root in resolved_roots])
        candidates = [w.resolve() for w in written]
        inside = [c for c in candidates if any(c.is_relative_to(root) for root in resolved_roots)]
        existing = [c for c in inside if c.exists()]
    except (OSError, RuntimeError) as exc:  # symlink loops, names too long, permission errors
        raise BadRequest(f"cannot resolve {raw!r}: {getattr(exc, 'strerror', None) or exc}") from exc
    if not inside:
        # a link inside a root whose target is not: say it is a link, or the user sees a path inside a root refused.
        # Where it leads goes to the server's log only: a client on the network learns no path outside the roots.
        linked = next((c for w, c in zip(written, candidates, strict=True)
                       if c != w and any(w.is_relative_to(root) for root in resolved_roots)), None)
        if linked:
            log.warning("refused %r: a link to %s, outside the data roots", raw, linked)
        what = f"{raw!r} is a link to a place" if linked else f"{raw!r} is"
        raise Forbidden(f"{what} outside the data roots this server may read ({allowed}; setting DATA_ROOTS)")
    if not existing:
        where = "" if given.is_absolute() else (f" here or in the data roots ({allowed}; a relative path is looked "
                                                 "up in both)")
        raise NotFound(f"{raw!r} does not exist{where}")
    return existing[0]


#: what a stored name never holds: control characters, path separators, and what Windows forbids in a name
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]+')


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")


def query_text(text: str) -> str:
    """A typed query without control characters (NUL, escapes; tabs and line breaks stay, a search reads them as
    spaces) and without surrounding space: ``"\\x00\\x00"`` is as empty as ``"   "``."""
    return _CONTROL.sub(" ", text).strip()


def safe_name(name: str, fallback: str = "file") -> str:
    """A single path component derived from a client-supplied name: the name as given (it is the item's name,
    SPEC), without its directory part and leading dots (no hidden files), and with :data:`_UNSAFE` replaced."""
    name = unicodedata.normalize("NFC", name or "")
    name = PurePosixPath(name.replace("\\", "/")).name
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > MAX_NAME_CHARS:  # keep the extension
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME_CHARS - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:MAX_NAME_CHARS]
    return name or fallback


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name-2.ext`` ... when that is taken (two names that sanitise alike)."""
    target = folder / name
    if not target.exists():
        return target
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while (folder / f"{stem}-{n}{suffix}").exists():
        n += 1
    return folder / f"{stem}-{n}{suffix}"


@dataclass
class ExpansionBudget:
    """What all archives of one request may expand to together; spent while extracting."""

    max_bytes: int
    max_members: int
    max_ratio: int
    max_archives: int
    used_bytes: int = 0
    used_members: int = 0
    archives: int = 0

    def open_archive(self, name: str) -> None:
        self.archives += 1
        if self.archives > self.max_archives:
            raise PayloadTooLarge(f"more than {self.max_archives} archives in one request ({name})")

    def add_member(self, name: str) -> None:
        self.used_members += 1
        if self.used_members > self.max_members:
            raise PayloadTooLarge(f"more than {self.max_members} files in the archives of one request ({name})")

    def spend(self, n: int) -> None:
        self.used_bytes += n
        if self.used_bytes > self.max_bytes:
            raise PayloadTooLarge(f"archives expand to more than {self.max_bytes // (1 << 20)} MB in one request")


def extract_zip(archive: Path, dest: Path, budget: ExpansionBudget, name: str | None = None) -> list[Path]:
    """Extract ``archive`` into the new folder ``dest`` under ``budget``; returns the files written.

    Refuses (400) unsafe member paths, links, special files, a file and a folder of the same name,
    unsupported compression and corrupt data; refuses (413) what exceeds the budget, and a member or an
    archive (past 64 MB) whose expansion exceeds ``max_ratio`` times its compressed size. On any refusal ``dest``
    is removed. Errors name the archive ``name`` (an upload's file name; default: the file's).

    An archive whose members all sit in one folder named as the archive (``site.zip`` holding ``site/...``, as
    "Compress" and "Send to zip" make them) is extracted without that folder, so ``dest`` does not repeat it.
    """
    name = name or archive.name
    budget.open_archive(name)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BadRequest(f"{name} is not a readable zip archive: {exc}") from exc
    try:
        with zf:
            return _extract_members(zf, name, dest, budget, _archive_folder(zf, name))
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _archive_folder(zf: zipfile.ZipFile, archive: str) -> str | None:
    """The one top folder every member sits in, when it is named as the archive (``site/`` of ``site.zip``).

    macOS's ``__MACOSX/`` resource forks do not count: the load skips them wherever they are.
    """
    paths = [PurePosixPath(m.filename.replace("\\", "/")).parts for m in zf.infolist() if not m.is_dir()]
    paths = [parts for parts in paths if parts and parts[0] != "__MACOSX"]
    tops = {parts[0] for parts in paths}
    if len(tops) != 1 or any(len(parts) < 2 for parts in paths):  # a file beside the folder, or no folder
        return None
    (top,) = tops
    return top if top.casefold() == PurePosixPath(archive).stem.casefold() else None


def _extract_members(zf: zipfile.ZipFile, archive: str, dest: Path, budget: ExpansionBudget,
                     folder: str | None) -> list[Path]:
    # hidden and system files (.DS_Store, __MACOSX/, Thumbs.db) are left out, as a folder's listing skips them
    members = [m for m in zf.infolist()
               if not m.is_dir() and not any(map(is_skipped_name, PurePosixPath(m.filename.replace("\\", "/")).parts))]
    declared = compressed = 0
    for member in members:
        budget.add_member(member.filename)
        declared += member.file_size  # a member that writes more than it declares is refused while copied
        compressed += max(member.compress_size, 1)
    if budget.used_bytes + declared > budget.max_bytes:
        raise PayloadTooLarge(f"{archive} expands to {declared} bytes; the request may expand to {budget.max_bytes}")
    if declared > max(ARCHIVE_RATIO_FLOOR_BYTES, budget.max_ratio * compressed):
        raise PayloadTooLarge(f"{archive} expands {declared // compressed}:1, more than {budget.max_ratio}:1 "
                              "(a zip bomb?)")
    dest.mkdir(parents=True, exist_ok=False)
    extracted: list[Path] = []
    for member in members:
        target = _member_target(member, dest, folder)
        limit = max(RATIO_FLOOR_BYTES, budget.max_ratio * max(member.compress_size, 1))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target = unique_path(target.parent, target.name)
            with zf.open(member) as src, target.open("wb") as out:
                _copy_limited(src, out, member, limit, budget)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise BadRequest(f"{archive} is corrupt ({member.filename}): {exc}") from exc
        except NotImplementedError as exc:
            raise BadRequest(f"{archive}: {member.filename} uses an unsupported compression method") from exc
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
            raise BadRequest(f"{archive}: {member.filename!r} clashes with another member (file and folder)") from exc
        except OSError as exc:
            raise BadRequest(f"{archive}: cannot write {member.filename!r}: {exc.strerror or exc}") from exc
        extracted.append(target)
    return extracted


def _member_target(member: zipfile.ZipInfo, dest: Path, folder: str | None) -> Path:
    name = member.filename.replace("\\", "/")
    file_type = stat.S_IFMT(member.external_attr >> 16)  # 0 when the archiver recorded no type
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        raise BadRequest(f"archive member {name!r} is a link or special file")
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name:
        raise BadRequest(f"archive member {name!r} has an unsafe path")
    if folder is not None and parts[0] == folder:
        parts = parts[1:]
    target = dest.joinpath(*[safe_name(p) for p in parts])
    if not target.resolve().is_relative_to(dest.resolve()):
        raise BadRequest(f"archive member {name!r} escapes the extraction directory")
    return target


def _copy_limited(src: IO[bytes], out: IO[bytes], member: zipfile.ZipInfo, limit: int,
                  budget: ExpansionBudget) -> None:
    written = 0
    while chunk := src.read(1 << 20):
        written += len(chunk)
        if written > member.file_size:
            raise PayloadTooLarge(f"archive member {member.filename!r} is larger than its header says")
        if written > limit:
            raise PayloadTooLarge(
                f"archive member {member.filename!r} expands more than {budget.max_ratio}:1 (a zip bomb?)")
        budget.spend(len(chunk))
        out.write(chunk)
