"""Files as every demo reads them: text in UTF-8, UTF-16 or windows-1252, told from binary; records of CSV files
with commas, tabs or semicolons."""

from __future__ import annotations

import codecs

import pytest

from common.files import looks_like_text, open_text, read_records, sniff, text_encoding


@pytest.mark.parametrize(("head", "text"), [
    ("Caf\u00e9\tcr\u00e8me\r\n\x0c\x1a".encode("latin-1"), True),
    (codecs.BOM_UTF16_LE + "Caf\u00e9".encode("utf-16-le"), True),
    ("Caf\u00e9\x00".encode("latin-1"), False),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", False),
    (b"\x7fELF\x02\x01\x01\x00", False),
    ("Caf\u00e9\x1b[31m".encode("latin-1"), False),
])
def test_what_looks_like_text_in_another_charset(head, text):
    assert looks_like_text(head) is text
    if not head.startswith(b"\x89PNG"):  # a PNG is a png whatever
        assert sniff(head) == ("text" if text else "binary")


@pytest.mark.parametrize(("data", "encoding", "text"), [
    ("caf\u00e9 \u2013 \u20ac".encode(), "utf-8", "caf\u00e9 \u2013 \u20ac"),
    (codecs.BOM_UTF8 + "caf\u00e9".encode(), "utf-8-sig", "caf\u00e9"),
    (codecs.BOM_UTF16_BE + "caf\u00e9".encode("utf-16-be"), "utf-16", "caf\u00e9"),
    ("\u201ccaf\u00e9\u201d \u2013 5 \u20ac".encode("cp1252"), "utf-8", "\u201ccaf\u00e9\u201d \u2013 5 \u20ac"),
    (b"a\x81b\x9dc", "utf-8", "a\x81b\x9dc"),  # windows-1252's undefined bytes, as browsers read them
    (b"x" * 5000 + "caf\u00e9".encode("latin-1"), "utf-8", "x" * 5000 + "caf\u00e9"),  # past any head
    # UTF-8 with a line pasted from a windows-1252 file: both read right (the whole file was read as windows-1252,
    # "cafÃ©" on every UTF-8 line, when one byte was not UTF-8)
    ("caf\u00e9\n".encode() + "it\u2019s\n".encode("cp1252") + "cr\u00e8me \u20ac\n".encode(), "utf-8",
     "caf\u00e9\nit\u2019s\ncr\u00e8me \u20ac\n"),
])
def test_a_text_file_is_read_in_its_encoding(tmp_path, data, encoding, text):
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    assert text_encoding(path) == encoding
    with open_text(path) as fh:
        assert fh.read() == text


def test_bytes_that_are_not_utf8_read_as_windows_1252_across_read_chunks(tmp_path):
    """The text is decoded a chunk at a time: a UTF-8 character cut by a chunk's end is still one character, a
    windows-1252 byte at a chunk's end is still that character."""
    path = tmp_path / "notes.txt"
    for data, text in ((b"a" * 8191 + "\u00e9".encode() + b"b", "a" * 8191 + "\u00e9b"),
                       (b"a" * 8191 + b"\xe9", "a" * 8191 + "\u00e9"),
                       (b"a" * 8190 + b"\xe2\x82", "a" * 8190 + "\u00e2\u201a")):  # UTF-8 cut short at the end
        path.write_bytes(data)
        with open_text(path) as fh:
            assert fh.read() == text


def test_the_windows_1252_fallback_reads_each_byte_that_is_not_utf8_and_nothing_else():
    """The handler reads a whole run up to the next UTF-8 character at once (a call per byte read windows-1252
    text at ~1 MB/s); the text is what a per-byte fallback reads, whatever the mix of characters, broken
    sequences, overlong forms, surrogates and code points past U+10FFFF."""
    import codecs
    import random

    from common.files import UTF8_ELSE_WINDOWS_1252, WINDOWS_1252_ERRORS

    def per_byte(error):
        return error.object[error.start:error.end].decode("cp1252", errors=WINDOWS_1252_ERRORS), error.end

    codecs.register_error("test-per-byte-windows-1252", per_byte)
    pieces = [b"a", b" ", b"\n", "\u00e9".encode(), "\u20ac".encode(), "\U0001f600".encode(), b"\xe9", b"\x92",
              b"\x81", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xf0\x9f",
              b"\xe0\x80\x80"]
    rng = random.Random(7)
    samples = [b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    samples.append(b"".join(rng.choice(pieces) for _ in range(20000)))  # runs longer than one call reads
    samples.append(b"caf\xe9 " * 3000 + "caf\u00e9".encode())
    for data in samples:
        assert data.decode("utf-8", errors=UTF8_ELSE_WINDOWS_1252) == \
            data.decode("utf-8", errors="test-per-byte-windows-1252"), data[:80]


@pytest.mark.parametrize(("name", "header"), [
    ("faq.csv", "question,answer,price"), ("faq.tsv", "question\tanswer\tprice"),
    ("faq.csv", "question\tanswer\tprice"), ("faq.csv", "question;answer;price"),
])
def test_records_of_commas_tabs_or_semicolons(tmp_path, name, header):
    sep = header[len("question")]
    path = tmp_path / name
    rows = [header, sep.join(["Where?", '"Here, there; and\teverywhere."', "2,50" if sep != "," else '"2,50"'])]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert list(read_records(path)) == [
        (2, {"question": "Where?", "answer": "Here, there; and\teverywhere.", "price": "2,50"})]


def test_records_of_a_windows_1252_file_with_its_one_accent_far_down(tmp_path):
    """Mostly ASCII, so its first kilobytes are UTF-8: the encoding is decided on the whole file, not its head
    (which read every record up to the accent, then stopped: "not UTF-8 text")."""
    path = tmp_path / "faq.csv"
    rows = ["question,answer"] + [f"Question {i}?,Answer {i}." for i in range(2000)] + ["Caf\u00e9?,Cr\u00e8me."]
    path.write_bytes("\n".join(rows).encode("cp1252"))
    records = list(read_records(path))
    assert len(records) == 2001 and records[-1] == (2002, {"question": "Caf\u00e9?", "answer": "Cr\u00e8me."})


@pytest.mark.parametrize(("head", "kind"), [
    (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heicmiaf\x00\x00\x01X", "heic"),  # an iPhone photo
    (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "heic"),  # generic HEIF, HEVC inside
    (b"\x00\x00\x00 ftypavif\x00\x00\x00\x00avifmif1miafMA1B", "avif"),
    (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", "avif"),  # generic HEIF, AV1 inside
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "mp4"),  # an iPhone video
])
def test_still_images_in_iso_base_media_files_are_not_videos(head, kind):
    """AVIF and HEIC start with an ``ftyp`` box as MP4 does: they sniffed as mp4, and image loads refused them."""
    assert sniff(head) == kind


@pytest.mark.parametrize(("head", "kind"), [
    (bytes.fromhex("000001ba2100010001c33367000001bb"), "mpeg"),  # an MPEG-1 program stream (.mpg)
    (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"), "asf"),  # Windows Media (.wmv)
    (b"FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00", "flv"),
])
def test_mpeg_windows_media_and_flash_videos_are_told_by_their_content(head, kind):
    """They sniffed as ``binary``, so the video demo refused files OpenCV decodes."""
    assert sniff(head) == kind
