"""Path, sniffing and zip safety with hostile inputs."""

from __future__ import annotations

import codecs
import io
import stat
import zipfile
from pathlib import Path

import pytest

from common.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from common.files import iter_files, sniff
from common.safety import ExpansionBudget, extract_zip, query_text, resolve_in_roots, safe_name, unique_path


def budget(max_bytes: int = 5 * 1024 * 1024, members: int = 10, ratio: int = 50, archives: int = 3) -> ExpansionBudget:
    return ExpansionBudget(max_bytes=max_bytes, max_members=members, max_ratio=ratio, max_archives=archives)


@pytest.fixture
def roots(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("a")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    return root, outside


def test_paths_inside_roots_resolve(roots):
    root, _ = roots
    assert resolve_in_roots(str(root / "sub" / "a.txt"), [root]) == (root / "sub" / "a.txt").resolve()
    assert resolve_in_roots(str(root), [root]) == root.resolve()


@pytest.mark.parametrize("make", [
    lambda root, out: str(out),
    lambda root, out: str(root / ".." / "outside" / "secret"),
    lambda root, out: "/etc/passwd",
    lambda root, out: str(root) + "-sibling",
])
def test_paths_outside_roots_are_forbidden(roots, make):
    root, outside = roots
    with pytest.raises(Forbidden):
        resolve_in_roots(make(root, outside), [root])


def test_symlink_escapes_are_forbidden(roots, caplog):
    root, outside = roots
    (root / "link-dir").symlink_to(outside)
    (root / "link-file").symlink_to(outside / "secret")
    for path in (root / "link-dir", root / "link-dir" / "secret", root / "link-file"):
        with pytest.raises(Forbidden) as refused:
            resolve_in_roots(str(path), [root])
        # the path is inside the root as the user sees it: the refusal says it is a link, and names no place
        # outside the roots to a client; the server's log says where it leads
        assert refused.value.detail.startswith(f"{str(path)!r} is a link to a place outside the data roots")
        assert str(outside) not in refused.value.detail
        target = outside if path.name == "link-dir" else outside / "secret"
        assert str(target.resolve()) in caplog.text
    with pytest.raises(Forbidden) as refused:  # a relative path, looked up in the root
        resolve_in_roots("link-dir", [root])
    assert refused.value.detail.startswith("'link-dir' is a link to a place outside")
    with pytest.raises(Forbidden) as refused:  # no link: said as before
        resolve_in_roots(str(outside), [root])
    assert refused.value.detail.startswith(f"{str(outside)!r} is outside the data roots")


def test_a_relative_path_is_looked_up_in_the_working_folder_then_the_data_roots(roots, tmp_path, monkeypatch):
    root, outside = roots
    other = tmp_path / "other"
    (other / "sub").mkdir(parents=True)
    (other / "only-here.txt").write_text("b")
    monkeypatch.chdir(outside)  # a working folder outside the roots
    assert resolve_in_roots("sub/a.txt", [root, other]) == (root / "sub" / "a.txt").resolve()
    assert resolve_in_roots("sub", [other, root]) == (other / "sub").resolve()  # the first root where it exists
    assert resolve_in_roots("only-here.txt", [root, other]) == (other / "only-here.txt").resolve()
    with pytest.raises(NotFound, match="looked up in both"):
        resolve_in_roots("secret", [root, other])  # exists in the working folder, outside the roots
    monkeypatch.chdir(tmp_path)  # as the tutorials run it: "data/..." beside the default root ./data
    assert resolve_in_roots("root/sub/a.txt", [root]) == (root / "sub" / "a.txt").resolve()
    for escape in ("../outside/secret", "sub/../../outside"):
        with pytest.raises(Forbidden):
            resolve_in_roots(escape, [root])


def test_missing_and_malformed_paths(roots):
    root, _ = roots
    with pytest.raises(NotFound):
        resolve_in_roots(str(root / "nope"), [root])
    with pytest.raises(BadRequest):
        resolve_in_roots("bad\x00path", [root])


@pytest.mark.parametrize(("head", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"), (b"\x89PNG\r\n\x1a\n....", "png"), (b"GIF89a....", "gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"), (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
    (b"BM" + b"\x00" * 20, "bmp"), (b"\x00\x00\x00\x18ftypmp42", "mp4"), (b"\x1a\x45\xdf\xa3\x01", "mkv"),
    (b"PK\x03\x04rest", "zip"), (b"question,answer\nhi,there\n", "text"), ("smiles é".encode()[:-1], "text"),
    (b"\x00\x01\x02\x03garbage", "binary"), ("caf\u00e9 cr\u00e8me".encode("latin-1"), "text"),
    (codecs.BOM_UTF16_LE + "caf\u00e9".encode("utf-16-le"), "text"), (b"\x7fELF\x02\x01\x01\x00", "binary"),
    (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip"),
])
def test_sniff_by_content(head, kind):
    assert sniff(head) == kind


def test_safe_name():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Windows\\evil.exe") == "evil.exe"
    assert safe_name("a\x00b\x1b|c:d?.jpg") == "a_b_c_d_.jpg"
    # a name is kept as the user gave it (it is the item's name): punctuation, symbols, any script
    for name in ("x – ‘quoted’ “dq” · 10€ 50% #1 日本 [a] {b} a&b, c;d $e 'f' ~g=h!.jpg", "Ferien – Café 50% #1.mp4"):
        assert safe_name(name) == name
    assert safe_name("...") == "file"


def make_zip(members: dict[str, bytes], **info) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zi = zipfile.ZipInfo(name)
            for key, value in info.items():
                setattr(zi, key, value)
            zf.writestr(zi, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    return path


def test_zip_extracts_normal_members(tmp_path):
    archive = write(tmp_path, make_zip({"a/b.txt": b"hello", "c.txt": b"world"}))
    files = extract_zip(archive, tmp_path / "out", budget())
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == ["a/b.txt", "c.txt"]


def test_zip_leaves_out_hidden_and_system_files_as_a_folder_listing_does(tmp_path):
    """A zip made on a Mac or by Windows Explorer: its .DS_Store, __MACOSX/ and Thumbs.db are not extracted (they
    were, as "DS_Store", and failed as items with a name the user does not have)."""
    members = {"Photos/a.jpg": b"x", "Photos/.DS_Store": b"\0", "__MACOSX/Photos/._a.jpg": b"\0",
               "Photos/Thumbs.db": b"\0", "Photos/sub/Desktop.ini": b"\0", ".hidden/b.jpg": b"x"}
    files = extract_zip(write(tmp_path, make_zip(members)), tmp_path / "out", budget())
    assert [p.relative_to(tmp_path / "out").as_posix() for p in files] == ["Photos/a.jpg"]
    folder = tmp_path / "folder"
    for name, data in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    assert [p.relative_to(folder).as_posix() for p in iter_files(folder)] == ["Photos/a.jpg"]


@pytest.mark.parametrize(("archive", "members", "expected"), [
    ("site.zip", ["site/", "site/a.txt", "site/usage/b.txt", "__MACOSX/site/._a.txt"],
     ["a.txt", "usage/b.txt"]),
    ("Site.ZIP", ["site/a.txt"], ["a.txt"]),
    ("site.zip", ["site/a.txt", "b.txt"], ["b.txt", "site/a.txt"]),  # not every member is in it
    ("docs.zip", ["site/a.txt"], ["site/a.txt"]),  # a folder of another name is part of the names
    ("site.zip", ["site"], ["site"]),  # a file, not a folder
])
def test_zip_does_not_repeat_a_folder_named_as_the_archive(tmp_path, archive, members, expected):
    path = tmp_path / archive
    path.write_bytes(make_zip({name: b"" if name.endswith("/") else b"x" for name in members}))
    files = extract_zip(path, tmp_path / "out", budget())
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == expected


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil.txt", "..\\evil.txt"])
def test_zip_refuses_unsafe_paths(tmp_path, name):
    archive = write(tmp_path, make_zip({name: b"x"}))
    with pytest.raises(BadRequest):
        extract_zip(archive, tmp_path / "out", budget())
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out").exists()


def test_zip_refuses_symlink_members(tmp_path):
    archive = write(tmp_path, make_zip({"link": b"/etc/passwd"}, external_attr=(stat.S_IFLNK | 0o777) << 16))
    with pytest.raises(BadRequest):
        extract_zip(archive, tmp_path / "out", budget())


def test_zip_limits_members_size_and_ratio(tmp_path):
    too_many = write(tmp_path, make_zip({f"f{i}.txt": b"x" for i in range(11)}))
    with pytest.raises(PayloadTooLarge, match="files"):
        extract_zip(too_many, tmp_path / "out", budget())
    bomb = write(tmp_path, make_zip({"zeros.bin": b"\x00" * (4 * 1024 * 1024)}))
    with pytest.raises(PayloadTooLarge, match="50:1"):
        extract_zip(bomb, tmp_path / "out", budget())
    assert not (tmp_path / "out").exists()
    big = write(tmp_path, make_zip({f"r{i}.bin": bytes(range(256)) * 8192 for i in range(3)}))
    with pytest.raises(PayloadTooLarge, match="expands"):
        extract_zip(big, tmp_path / "out", budget(max_bytes=4 * 1024 * 1024, ratio=10_000))


def test_budget_is_shared_by_every_archive_of_a_request(tmp_path):
    """Nine archives that each fit cannot together exceed what one request may expand to."""
    shared = budget(max_bytes=3 * 1024 * 1024, ratio=10_000, archives=20)
    member = bytes(range(256)) * 4096  # 1 MB
    for i in range(2):
        extract_zip(write(tmp_path, make_zip({f"m{i}.bin": member})), tmp_path / f"out{i}", shared)
    with pytest.raises(PayloadTooLarge):
        for i in range(2, 9):
            extract_zip(write(tmp_path, make_zip({f"m{i}.bin": member * 2})), tmp_path / f"out{i}", shared)
    assert shared.used_bytes <= 3 * 1024 * 1024
    too_many = budget(archives=1)
    extract_zip(write(tmp_path, make_zip({"a.txt": b"a"})), tmp_path / "x1", too_many)
    with pytest.raises(PayloadTooLarge, match="archives"):
        extract_zip(write(tmp_path, make_zip({"b.txt": b"b"})), tmp_path / "x2", too_many)


def test_a_bomb_member_padded_with_random_data_is_refused(tmp_path):
    """The ratio is per member: random padding elsewhere in the archive does not dilute it."""
    import os

    archive = write(tmp_path, make_zip({"pad.bin": os.urandom(2 * 1024 * 1024), "bomb.bin": b"\x00" * (8 << 20)}))
    with pytest.raises(PayloadTooLarge, match="50:1"):
        extract_zip(archive, tmp_path / "out", budget(max_bytes=64 << 20))
    assert not (tmp_path / "out").exists()


def test_an_archive_of_many_small_bomb_members_is_refused_as_a_whole(tmp_path):
    """Members under 1 MB are not held to the ratio one by one: 100 of them, 1 MB of zeros each (100 MB from a
    100 KB zip; the helper's 2,040 wrote 2 GB per request), passed. The archive as a whole is held to it."""
    archive = write(tmp_path, make_zip({f"d/{i}.txt": b"\x00" * (1 << 20) for i in range(100)}))
    assert archive.stat().st_size < 200_000
    with pytest.raises(PayloadTooLarge, match=r"expands \d+:1, more than 100:1"):
        extract_zip(archive, tmp_path / "out", budget(max_bytes=1 << 30, members=1000, ratio=100))
    assert not (tmp_path / "out").exists()
    # text compresses well, but not 100:1: a zip of 100 such files is extracted
    words = " ".join(f"word{i % 5000} line {i}" for i in range(60_000)).encode()  # ~1 MB
    texts = write(tmp_path, make_zip({f"docs/{i}.txt": words[i:] for i in range(70)}))
    assert len(extract_zip(texts, tmp_path / "texts", budget(max_bytes=1 << 30, members=1000, ratio=100))) == 70


def test_file_and_folder_of_the_same_name_is_400_and_leaves_nothing(tmp_path):
    archive = write(tmp_path, make_zip({"a": b"file", "a/b": b"under a file"}))
    with pytest.raises(BadRequest, match="clashes"):
        extract_zip(archive, tmp_path / "out", budget())
    assert not (tmp_path / "out").exists()


def test_unsupported_compression_is_400(tmp_path):
    data = bytearray(make_zip({"x.txt": b"hello" * 100}))
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # compression method -> 99 (AES)
        at = data.find(sig)
        data[at + offset: at + offset + 2] = (99).to_bytes(2, "little")
    with pytest.raises(BadRequest):
        extract_zip(write(tmp_path, bytes(data)), tmp_path / "out", budget())
    assert not (tmp_path / "out").exists()


def test_names_that_sanitise_alike_are_kept_apart(tmp_path):
    files = extract_zip(write(tmp_path, make_zip({"a?b.jpg": b"one", "a*b.jpg": b"two"})), tmp_path / "out", budget())
    assert sorted(p.name for p in files) == ["a_b-2.jpg", "a_b.jpg"]
    assert sorted(p.read_bytes() for p in files) == [b"one", b"two"]
    assert unique_path(tmp_path / "out", "new.txt").name == "new.txt"


def test_overlong_path_component_is_400_not_500(roots):
    root, _ = roots
    with pytest.raises(BadRequest):
        resolve_in_roots(str(root / ("x" * 300)), [root])


def test_zip_header_lying_about_size_is_caught(tmp_path):
    data = bytearray(make_zip({"small.txt": b"A" * 5000}))
    # shrink the declared uncompressed size in both headers so the member expands past it
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (100).to_bytes(4, "little")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    archive = write(tmp_path, bytes(data))
    with pytest.raises((PayloadTooLarge, BadRequest)):
        extract_zip(archive, tmp_path / "out", budget())


def test_not_a_zip(tmp_path):
    with pytest.raises(BadRequest):
        extract_zip(write(tmp_path, b"PK\x03\x04 not really"), tmp_path / "out", budget())


def test_query_text_leaves_out_control_characters():
    """A query of NULs was searched (and answered) while "   " was "the query is empty"."""
    assert query_text("\x00\x00") == query_text(" \x1b\x7f ") == ""
    assert query_text("  why\tdoes\nps\x00 complain ") == "why\tdoes\nps  complain"
