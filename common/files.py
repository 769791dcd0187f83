"""Files as every demo reads them: one sniffer, one content id, one record reader, streaming listings.

* :func:`sniff` / :func:`sniff_file` – the kind of content from its first bytes, never from its name.
* :func:`iter_files` / :func:`count_files` – regular files under a path, streamed (a directory of a million
  files is never held in memory), symlinks and hidden files skipped.
* :func:`content_id` / :func:`file_content_id` – the stable 53-bit id of some content (same bytes, same id),
  which is what makes a retried load store nothing twice.
* :func:`read_records` – CSV/TSV, JSON Lines or a JSON array of objects, one record at a time with its line.
* :func:`open_text` – a text file in its encoding: by its byte order mark, else UTF-8 with any byte that is not
  UTF-8 read as windows-1252; the rule is :func:`text_codec`'s, which the QA demo's documents follow too (with
  the charset an HTML page declares).
* :func:`atomic_write` – write a file so readers see either nothing or the whole file.
* :func:`read_query_file` – the bytes of a query file named on the command line (``bootcamp search``).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

#: bytes read to sniff a file's kind
SNIFF_BYTES = 64
#: why a file of no bytes (sniffed ``empty``) is not loaded, in every demo
EMPTY_FILE = "empty file (0 bytes)"
#: a directory with more entries than this is streamed in the file system's order instead of sorted
SORT_LIMIT = 10_000
#: longest CSV field or JSON line accepted (a record reader never buffers more than this)
MAX_RECORD_BYTES = 1 << 20
#: control bytes that text does not hold (C0 but tab, newline, vertical tab, form feed, carriage return and DOS's
#: end of file 0x1A; and DEL): in a file that is not UTF-8, they tell binary content from text in a legacy charset
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x19\x1b-\x1f\x7f]")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: the error handler that reads windows-1252's five undefined bytes (0x81 0x8D 0x8F 0x90 0x9D) as the C1
#: controls of the same number, as browsers' windows-1252 decoder does, so that every byte string decodes
WINDOWS_1252_ERRORS = "windows-1252-c1"


def _c1(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error(WINDOWS_1252_ERRORS, _c1)

#: the error handler of UTF-8 text that reads each byte that is not UTF-8 as windows-1252 (with
#: :data:`WINDOWS_1252_ERRORS`): UTF-8 files, windows-1252 files and UTF-8 files with a few lines pasted from a
#: windows-1252 one (a "’" saved by an old Windows program) all read right, in one pass
UTF8_ELSE_WINDOWS_1252 = "utf-8-else-windows-1252"


#: a well-formed UTF-8 character of two to four bytes (what Python's strict decoder accepts)
_UTF8_CHARACTER = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                             rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
                             rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
#: a lead byte and a continuation byte: where a UTF-8 character of two to four bytes may start (quicker to find)
_UTF8_START = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
#: the start of a UTF-8 character cut by the end of the bytes at hand (the next chunk may complete it)
_CUT_CHARACTER = re.compile(rb"[\xc2-\xf4][\x80-\xbf]{0,2}\Z")
#: bytes searched ahead for the next UTF-8 character by one call of the handler
_FALLBACK_SPAN = 4096


def _as_windows_1252(error: UnicodeError) -> tuple[str, int]:
    """Reads the bytes from the one that is not UTF-8 up to the next UTF-8 character (at most
    :data:`_FALLBACK_SPAN`) as windows-1252 in one call: between two UTF-8 characters, UTF-8 with a per-byte
    fallback and windows-1252 read the same, and a call per byte read windows-1252 text at ~1-5 MB/s."""
    assert isinstance(error, UnicodeDecodeError)
    data, start = error.object, error.start
    stop = min(len(data), start + _FALLBACK_SPAN)
    found = _next_utf8_character(data, start, stop)
    cut = None if found is not None else _CUT_CHARACTER.search(data, start, stop)
    end = max(error.end, found if found is not None else cut.start() if cut else stop)
    return data[start:end].decode("cp1252", errors=WINDOWS_1252_ERRORS), end


def _next_utf8_character(data: bytes, start: int, stop: int) -> int | None:
    """Where the first well-formed UTF-8 character of two to four bytes starts in ``data[start:stop]``."""
    while (hit := _UTF8_START.search(data, start, stop)) is not None:
        if _UTF8_CHARACTER.match(data, hit.start()):
            return hit.start()
        start = hit.start() + 1
    return None


codecs.register_error(UTF8_ELSE_WINDOWS_1252, _as_windows_1252)

#: zip containers that are documents, not archives of files to load (Office Open XML, OpenDocument, EPUB)
ZIP_DOCUMENT_SUFFIXES = frozenset({".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".epub"})
IMAGE_KINDS = frozenset({"jpeg", "png", "gif", "webp", "bmp", "tiff", "avif", "heic"})
#: ISO base-media brands of still images (``ftyp`` major or compatible brand), not videos: AVIF and HEIF/HEIC
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"})
#: ASF (WMV), whose header object is named by a GUID
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
VIDEO_KINDS = frozenset({"avi", "mp4", "mkv", "mpeg", "asf", "flv"})


def sniff(head: bytes) -> str:
    """The kind of content from its first bytes.

    Returns one of ``zip``, ``jpeg``, ``png``, ``gif``, ``webp``, ``bmp``, ``tiff``, ``avif``, ``heic`` (HEIF
    still images, as iPhones take them), ``avi``, ``mp4`` (any other ISO base-media file: ``ftyp``, or a
    ``moov``/``mdat``/``free``/``wide`` box first), ``mkv`` (Matroska and WebM), ``mpeg`` (an MPEG
    program stream: ``.mpg``), ``asf`` (Windows Media: ``.wmv``), ``flv`` (Flash video), ``pdf``, ``gzip``,
    ``text``, ``binary``, or ``empty`` (no bytes at all). ``text`` is UTF-8 without NUL bytes, UTF-16
    with a byte order mark, or text in a legacy charset such as windows-1252: bytes that are not UTF-8 but hold
    no NUL or control byte (:func:`looks_like_text`); :func:`open_text` reads them.
    """
    if not head:
        return "empty"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
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
    if head[4:8] == b"ftyp" and (still := _still_image_kind(head)):
        return still
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "mkv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    if head.startswith(_ASF_HEADER):
        return "asf"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a multi-byte character cut by the sniff window is still text
                return "text"
    return "text" if looks_like_text(head) else "binary"


def _still_image_kind(head: bytes) -> str | None:
    """``avif`` or ``heic`` when an ``ftyp`` box names a still-image brand (its major brand, else one of the
    compatible brands within ``head``: a generic ``mif1`` HEIF file says ``avif`` or ``heic`` there)."""
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    brands = {major} | compatible
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIC_BRANDS and major not in (b"isom", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp4", b"3gp5"):
        return "heic"
    return None


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file that is not UTF-8 are text in another charset: a UTF-16 byte order
    mark, or no NUL and no control byte but tab, newline, form feed, carriage return (the headers of images,
    archives and executables hold many)."""
    return head.startswith(UTF16_BOMS) or _BINARY_BYTES.search(head) is None


def is_archive(name: str, kind: str) -> bool:
    """Whether a file called ``name`` whose content sniffed as ``kind`` is an archive whose members are loaded:
    a zip, unless its name says it is a document that happens to be a zip (``report.docx``)."""
    return kind == "zip" and Path(name).suffix.lower() not in ZIP_DOCUMENT_SUFFIXES


def sniff_file(path: Path) -> str:
    with path.open("rb") as fh:
        return sniff(fh.read(SNIFF_BYTES))


#: what macOS and Windows add to folders and zips (compared in lower case); hidden files are skipped too
SYSTEM_NAMES = frozenset({"__macosx", "thumbs.db", "ehthumbs.db", "desktop.ini"})


def is_skipped_name(name: str) -> bool:
    """True for a file or folder name a listing skips: hidden (``.DS_Store``) or system (:data:`SYSTEM_NAMES`).
    ``.`` and ``..`` are not names (an archive member's path holding them is refused as unsafe)."""
    return (name.startswith(".") and name not in (".", "..")) or name.lower() in SYSTEM_NAMES


def iter_files(path: Path) -> Iterator[Path]:
    """Regular files at or under ``path`` in a stable order; symlinks and :func:`is_skipped_name` names skipped.

    Symlinks are not followed, so a link planted inside a data root cannot reach outside it. Entries of a
    directory are sorted when there are at most :data:`SORT_LIMIT` of them, else streamed as listed.
    """
    if path.is_symlink():
        return
    if path.is_file():
        yield path
        return
    if path.is_dir():
        yield from _walk(path)


def _walk(directory: Path) -> Iterator[Path]:
    try:
        scan = os.scandir(directory)
    except OSError:
        return
    with scan:
        head: list[os.DirEntry[str]] = []
        for entry in scan:
            head.append(entry)
            if len(head) > SORT_LIMIT:
                break
        else:  # small directory: sorted
            for entry in sorted(head, key=lambda e: e.name):
                yield from _visit(entry)
            return
        for entry in head:  # huge directory: in the order the file system gives, never all in memory
            yield from _visit(entry)
        head.clear()
        for entry in scan:
            yield from _visit(entry)


def _visit(entry: os.DirEntry[str]) -> Iterator[Path]:
    if is_skipped_name(entry.name):
        return
    try:
        if entry.is_symlink():
            return
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            yield Path(entry.path)
    except OSError:
        return


def count_files(path: Path) -> int:
    """How many files :func:`iter_files` yields, counted without holding them."""
    return sum(1 for _ in iter_files(path))


def label_for(path: Path, root: Path) -> str:
    """How an item is named in results and task errors: its path relative to the load root."""
    try:
        rel = path.relative_to(root)
        return str(rel) if str(rel) != "." else path.name
    except ValueError:
        return path.name


#: the largest id :func:`content_id` gives (ids are 53-bit: exact in JavaScript numbers, fit Milvus INT64)
ID_MAX = 2**53 - 1


def content_id(data: bytes | str) -> int:
    """A stable positive 53-bit id from content (exact in JavaScript numbers, fits Milvus INT64)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _id_of(hashlib.sha256(data))


def file_content_id(path: Path) -> tuple[int, str]:
    """:func:`content_id` of a file's bytes and their SHA-256, read in chunks (videos are large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return _id_of(digest), digest.hexdigest()


def _id_of(digest: Any) -> int:
    return int.from_bytes(digest.digest()[:8], "big") >> 11


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- records -----------------------------------------------------------------------------------
Record = dict[str, Any]


def count_lines(path: Path) -> int:
    """Newlines in a file (an upper bound of its records), read in blocks."""
    with path.open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) + 1


def read_records(path: Path) -> Iterator[tuple[int, Record | str]]:
    """``(line, record)`` for each record of a CSV/TSV, JSON Lines or JSON-array file; ``(line, error)`` for
    a record that cannot be read. Keys are stripped and keep their case (:func:`column` finds one whatever its
    case). The file is read incrementally."""
    encoding = text_encoding(path)  # decided once: the readers below open the file again in it
    with open_text(path, encoding) as fh:
        try:
            start = fh.read(4096).lstrip()
        except UnicodeDecodeError:
            yield 0, "not text: a UTF-16 file with a broken character"
            return
    suffix = path.suffix.lower()
    if start.startswith("[") and suffix not in (".csv", ".tsv"):
        yield from _read_json_array(path, encoding)
    elif suffix in (".jsonl", ".ndjson", ".json") or start.startswith("{"):
        yield from _read_jsonl(path, encoding)
    else:
        yield from _read_csv(path, encoding, csv_delimiter(suffix, start.split("\n", 1)[0]))


def csv_delimiter(suffix: str, header: str) -> str:
    """The delimiter of a CSV/TSV file from its name and header line: a tab for ``.tsv`` or a header of tabs
    without commas; a semicolon for a header of semicolons without commas or tabs (what Excel writes where the
    decimal mark is a comma); else a comma."""
    if suffix == ".tsv" or ("\t" in header and "," not in header):
        return "\t"
    return ";" if ";" in header and "," not in header and "\t" not in header else ","


#: charset labels that browsers read as windows-1252 (the WHATWG Encoding Standard), by Python codec name
_READ_AS_WINDOWS_1252 = frozenset({"iso8859-1", "ascii", "cp1252"})


def text_codec(head: bytes, declared: str | None = None) -> str:
    """The codec a text is read with, from its first bytes, by the first of these rules that decides (the order
    browsers follow); :func:`text_errors` names the error handler to read it with:

    1. a byte order mark: ``utf-8-sig`` or ``utf-16``;
    2. ``declared``, the charset the content names itself (an HTML page's ``<meta charset>``), when Python knows
       it; ISO-8859-1 and ASCII are read as ``cp1252`` (windows-1252), as browsers read them;
    3. else ``utf-8``, each byte that is not UTF-8 read as windows-1252 (:data:`UTF8_ELSE_WINDOWS_1252`): the
       charset of old Windows files and of Excel's "CSV" in Western locales, the same as Latin-1 for every
       letter. A windows-1252 text almost never holds a byte pair that is also UTF-8 ("Ã©" is).
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(UTF16_BOMS):
        return "utf-16"
    if declared is not None:
        with contextlib.suppress(LookupError):
            codec = codecs.lookup(declared).name
            return "cp1252" if codec in _READ_AS_WINDOWS_1252 else codec
    return "utf-8"


def text_errors(codec: str, otherwise: str = "strict") -> str:
    """The error handler text in ``codec`` (from :func:`text_codec`) is read with: UTF-8 with its windows-1252
    fallback, windows-1252 with its five undefined bytes as C1 controls; ``otherwise`` for other codecs."""
    if codec in ("utf-8", "utf-8-sig"):
        return UTF8_ELSE_WINDOWS_1252
    return WINDOWS_1252_ERRORS if codec == "cp1252" else otherwise


def text_encoding(path: Path) -> str:
    """The codec a text file is read with, from its first bytes (:func:`text_codec`)."""
    with path.open("rb") as fh:
        return text_codec(fh.read(len(codecs.BOM_UTF8)))


def open_text(path: Path, encoding: str | None = None) -> io.TextIOWrapper:
    """A text file of records in its encoding (:func:`text_encoding` unless given; a BOM is skipped), newlines
    kept as written. Every byte of a UTF-8 or windows-1252 file decodes; a UTF-16 file with a broken character
    raises."""
    encoding = encoding or text_encoding(path)
    return path.open("r", encoding=encoding, errors=text_errors(encoding), newline="")


def _read_jsonl(path: Path, encoding: str) -> Iterator[tuple[int, Record | str]]:
    with open_text(path, encoding) as fh:
        number = 0
        while True:
            try:
                line = fh.readline(MAX_RECORD_BYTES + 1)
            except UnicodeDecodeError as exc:
                yield number + 1, f"undecodable text: {exc.reason}"
                return
            if not line:
                return
            number += 1
            if len(line) > MAX_RECORD_BYTES:
                yield number, f"line longer than {MAX_RECORD_BYTES} characters"
                skip_line(fh)
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"invalid JSON: {exc.msg}"
                continue
            yield number, _normalised(record)


def skip_line(fh: io.TextIOWrapper, chunk: int = MAX_RECORD_BYTES) -> None:
    """Read past the rest of the current line, ``chunk`` characters at a time (a long line is never held)."""
    while True:
        rest = fh.readline(chunk)
        if not rest or rest.endswith("\n"):
            return


def _read_json_array(path: Path, encoding: str) -> Iterator[tuple[int, Record | str]]:
    """A JSON array of objects, decoded one element at a time (the whole text is never parsed at once)."""
    decoder = json.JSONDecoder()
    with open_text(path, encoding) as fh:
        buf, pos, index, line = "", 0, 0, 1
        started = False
        while True:
            buf = buf[pos:]
            pos = 0
            try:
                chunk = fh.read(1 << 16)
            except UnicodeDecodeError as exc:
                yield line, f"undecodable text: {exc.reason}"
                return
            buf += chunk
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n,":
                    line += buf[pos] == "\n"
                    pos += 1
                if not started:
                    if pos < len(buf) and buf[pos] == "[":
                        started, pos = True, pos + 1
                        continue
                    break
                if pos < len(buf) and buf[pos] == "]":
                    return
                try:
                    value, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError as exc:
                    if not chunk or len(buf) - pos > MAX_RECORD_BYTES:
                        yield line, f"invalid JSON: {exc.msg}"
                        return
                    break  # need more text
                index += 1
                yield line, _normalised(value)
                line += buf.count("\n", pos, end)
                pos = end
            if not chunk:
                return


def _read_csv(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, Record | str]]:
    csv.field_size_limit(MAX_RECORD_BYTES)
    with open_text(path, encoding) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            yield 1, "empty file"
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield 1, f"unreadable CSV header: {exc}"
            return
        columns = [h.strip() for h in header]  # as written: "Activity (µM)" is not "activity (µm)"
        line = reader.line_num
        while True:
            start = line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                yield start, f"undecodable text: {exc.reason}"
                return
            except csv.Error as exc:  # the reader starts afresh at the next line: one bad record, not the rest
                line = reader.line_num
                yield start, f"unreadable CSV: {exc}"
                continue
            line = reader.line_num
            if not row:
                continue  # a blank line
            if not any(cell.strip() for cell in row):
                yield start, "empty row"
                continue
            if len(row) > len(columns):
                yield start, f"{len(row)} fields but the header has {len(columns)}"
                continue
            yield start, {columns[i]: cell for i, cell in enumerate(row)}


def _normalised(record: Any) -> Record | str:
    if not isinstance(record, dict):
        return "not a JSON object"
    return {str(k).strip(): v for k, v in record.items()}


def folded_keys(record: Mapping[str, Any]) -> dict[str, str]:
    """``{key.casefold(): key}`` of a record (the first key of each folded spelling): a column looked up in any
    case (``SMILES``, ``Question``), while keys keep theirs, which can carry meaning (``Activity (µM)``)."""
    keys: dict[str, str] = {}
    for key in record:
        keys.setdefault(key.casefold(), key)
    return keys


def column(record: Mapping[str, Any], names: Iterable[str]) -> str | None:
    """The key of ``record`` that is the first of ``names`` (given in lower case), however the file wrote it."""
    keys = folded_keys(record)
    return next((keys[name] for name in names if name in keys), None)


def read_query_file(query: str) -> bytes:
    """The bytes of the query file ``bootcamp search`` was given; :class:`~common.errors.NotFound` saying why
    it cannot be read (one line, not a traceback)."""
    from .errors import NotFound

    try:
        return Path(query).expanduser().read_bytes()
    except OSError as exc:
        raise NotFound(f"cannot read query file {query!r}: {exc.strerror or exc}") from exc
