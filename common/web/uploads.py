"""Upload staging: files of a request (and the archives among them) written to a folder the load reads.

One :class:`~common.safety.ExpansionBudget` covers every archive of a request. Whatever is refused, the
staging folder is removed before the error reaches the client; a load removes it when it ends.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi import UploadFile
from starlette.formparsers import MultiPartParser

from ..errors import BadRequest, BootcampError, UnsupportedMediaType
from ..files import SNIFF_BYTES, is_archive, sniff, sniff_file
from ..pipeline import Pipeline
from ..safety import ExpansionBudget, extract_zip, safe_name, unique_path
from ..settings import ServiceSettings

#: each file of a multipart body is held in memory up to this size, then spooled to a temporary file. Starlette's
#: 1 MB let 1,000 parts of 199 KB hold 199 MB per request (four at once: +800 MB); at 16 KB it is 16 MB
MultiPartParser.spool_max_size = 16 * 1024


def expansion_budget(settings: ServiceSettings) -> ExpansionBudget:
    """The budget of one request: ``MAX_EXPAND_MB`` in all its archives, ``MAX_ZIP_MEMBERS`` files..."""
    return ExpansionBudget(
        max_bytes=settings.max_expand_mb * 1024 * 1024,
        max_members=settings.max_zip_members,
        max_ratio=settings.max_zip_ratio,
        max_archives=settings.max_archives,
    )


def save_uploads(files: list[UploadFile], staging: Path, settings: ServiceSettings, pipeline: Pipeline) -> None:
    """Write uploads into ``staging`` (archives extracted under one budget); removes ``staging`` on refusal.

    415 when no uploaded file may hold anything to load (:meth:`Pipeline.may_load`; an archive counts: its
    members are checked by the load), with the pipeline's reason for each file.
    """
    budget = expansion_budget(settings)
    try:
        refused: list[str] = []
        for index, upload in enumerate(files):
            upload.file.seek(0)
            kind = sniff(upload.file.read(SNIFF_BYTES))
            upload.file.seek(0)
            name = safe_name(upload.filename or f"upload-{index}")
            archive_upload = is_archive(name, kind)
            if not archive_upload and not pipeline.may_load(name, kind):
                refused.append(f"{upload.filename or name}: {pipeline.refused(kind)}")
            if archive_upload:
                archive = staging.parent / f"{staging.name}-{index}.zip"
                try:
                    _write(upload, archive)
                    extract_zip(archive, unique_path(staging, Path(name).stem or f"archive-{index}"), budget, name)
                finally:
                    archive.unlink(missing_ok=True)
            else:
                _write(upload, unique_path(staging, name))
        if len(refused) == len(files):
            more = f"; and {len(refused) - 3} more" if len(refused) > 3 else ""
            raise UnsupportedMediaType("none of the uploaded files can be loaded: " + "; ".join(refused[:3]) + more)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def stage_archive(archive: Path, staging: Path, settings: ServiceSettings) -> Path:
    """Extract a server-side .zip (``/load``) into ``staging``; removes ``staging`` on refusal."""
    try:
        dest = staging / (safe_name(archive.stem) or "archive")
        extract_zip(archive, dest, expansion_budget(settings))
        return dest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def is_archive_file(path: Path) -> bool:
    """Whether a server-side path is a zip archive to extract and load (:func:`common.files.is_archive`)."""
    try:
        return path.is_file() and is_archive(path.name, sniff_file(path))
    except OSError as exc:
        raise BadRequest(f"cannot read {path.name}: {exc.strerror or exc}") from exc


def _write(upload: UploadFile, target: Path) -> None:
    try:
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)
    except OSError as exc:
        raise BootcampError(f"cannot store the upload: {exc.strerror or exc}") from exc
