"""read_bulletin_text: PDF, DOCX and text files round-trip; unreadable files raise BadBulletin naming the file."""

from __future__ import annotations

import random
import re
import zipfile
from pathlib import Path

import docx
import pytest
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas

import qa.ingest
import qa.ingest.word
from fixtures_builders import (
    PAGE_FOOTER,
    SAMPLE_ARTICLE_TITLES,
    SAMPLE_BULLETIN_LINES,
    make_docx,
    make_docx_bomb,
    make_image_only_pdf,
    make_pdf,
    register_cjk_font,
)
from qa.errors import BadBulletin
from qa.ingest import SUPPORTED_SUFFIXES, read_bulletin_text

SAMPLE_TEXT = "\n".join(SAMPLE_BULLETIN_LINES)
BODY_PARAGRAPHS = [line for line in SAMPLE_BULLETIN_LINES if len(line) > 40 and not line.startswith("★")]
KEY_FACTS = ["12.34亿元", "13.5吨", "41.2%", "2876万元", "26.8%", "《云山市氢能产业发展扶持办法（试行）》"]
CJK_SPACE_CJK = re.compile(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]")
# "中心 编辑", "李 涛" and the footer are spaced on purpose; every other line must come back unspaced.
LINES_SPACED_ON_PURPOSE = {line for line in [*SAMPLE_BULLETIN_LINES, PAGE_FOOTER] if CJK_SPACE_CJK.search(line)}


def _unwrapped(pdf_text: str) -> str:
    """Undo the PDF's line wrapping and paging, crudely: enough to look for whole sentences."""
    lines = [line for line in pdf_text.splitlines() if line not in (PAGE_FOOTER, "") and not line.isdigit()]
    return "".join(lines)


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_text_is_one_line_per_paragraph_without_page_furniture(tmp_path: Path) -> None:
    path = tmp_path / "2024-03.pdf"
    pages = make_pdf(path, SAMPLE_BULLETIN_LINES, lines_per_page=15)
    assert len(pages) >= 2, "the sample should span pages so page joins are exercised"

    lines = [line.strip() for line in read_bulletin_text(path).splitlines() if line.strip()]

    # every source line comes back whole although it was wrapped at the margin and across pages
    assert lines == SAMPLE_BULLETIN_LINES
    assert PAGE_FOOTER not in lines and not any(line.isdigit() for line in lines)


def test_pdf_keeps_titles_sentences_and_numbers_without_spaces_between_characters(tmp_path: Path) -> None:
    path = tmp_path / "2024-03.pdf"
    make_pdf(path, SAMPLE_BULLETIN_LINES, lines_per_page=15)

    text = read_bulletin_text(path)

    lines = [line.strip() for line in text.splitlines()]
    for title in SAMPLE_ARTICLE_TITLES:
        assert title in lines
    assert "科技情报参考" in lines and "2024年第3期" in lines
    body = _unwrapped(text)
    for paragraph in BODY_PARAGRAPHS:
        assert paragraph in body
    for fact in KEY_FACTS:
        assert fact in body
    for line in lines:
        assert line in LINES_SPACED_ON_PURPOSE or not CJK_SPACE_CJK.search(line), line


def test_pdf_maps_kangxi_radical_lookalikes_to_ordinary_characters(tmp_path: Path) -> None:
    path = tmp_path / "radicals.pdf"
    make_pdf(path, ["⽣产⼯作稳步推进"])  # U+2F63, U+2F2F: what some Word→PDF exports contain

    assert "生产工作稳步推进" in read_bulletin_text(path)


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    path = tmp_path / "restricted.pdf"
    pdf = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("", ownerPassword="owner", canCopy=0))
    pdf.setFont(register_cjk_font(), 12)
    pdf.drawString(60, 780, "云山市全年投入12.34亿元")
    pdf.showPage()
    pdf.save()

    assert "云山市全年投入12.34亿元" in read_bulletin_text(path)


# --- DOCX ------------------------------------------------------------------------------------


def test_docx_gives_paragraphs_in_order_with_headings_marked(tmp_path: Path) -> None:
    path = tmp_path / "2024-03.docx"
    make_docx(path, SAMPLE_ARTICLE_TITLES, SAMPLE_BULLETIN_LINES)

    lines = [line.strip() for line in read_bulletin_text(path).splitlines() if line]

    expected = [f"## {line}" if line in SAMPLE_ARTICLE_TITLES else line for line in SAMPLE_BULLETIN_LINES]
    assert lines == expected
    assert any("12.34亿元" in line for line in lines)


def test_docx_table_is_read_row_by_row_with_its_header_labels(tmp_path: Path) -> None:
    path = tmp_path / "table.docx"
    rows = [["指标", "2023年", "2024年"], ["专项资金", "9.87亿元", "12.34亿元"], ["孵化器", "9家", "11家"]]
    make_docx(path, ["资金投入"], ["资金投入", "云山市科技投入情况如下。"], table_rows=rows)

    lines = [line.strip() for line in read_bulletin_text(path).splitlines() if line]

    assert lines == [
        "## 资金投入",
        "云山市科技投入情况如下。",
        "指标：专项资金；2023年：9.87亿元；2024年：12.34亿元",
        "指标：孵化器；2023年：9家；2024年：11家",
    ]


def test_docx_table_without_a_header_row_joins_each_rows_cells(tmp_path: Path) -> None:
    path = tmp_path / "plain-table.docx"
    make_docx(path, [], ["说明"], table_rows=[["云山市全年投入科技专项资金，用于氢能产业", "12.34亿元"]])

    assert "云山市全年投入科技专项资金，用于氢能产业；12.34亿元" in read_bulletin_text(path)


def test_docx_merged_table_cell_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "merged.docx"
    make_docx(path, [], ["说明"], table_rows=[["合计12.34亿元", ""], ["a", "b"]])
    document = docx.Document(str(path))
    top_row = document.tables[0].rows[0].cells
    top_row[0].merge(top_row[1])
    document.save(str(path))

    assert read_bulletin_text(path).count("合计12.34亿元") == 1


# --- text files ------------------------------------------------------------------------------


def test_the_docx_bomb_from_the_hostile_test_is_refused_before_anything_unpacks_it(tmp_path: Path, monkeypatch) -> None:
    # 97 KB whose word/document.xml unpacks to 20 MB: it ran 12 minutes at a full core (RSS +280 MB).
    path = tmp_path / "bomb.docx"
    make_docx_bomb(path, 20 * 2**20)
    assert path.stat().st_size < 120_000

    def unpack(*args, **kwargs):
        raise AssertionError("the archive was opened for parsing; it should have been refused first")

    monkeypatch.setattr(qa.ingest.word.docx, "Document", unpack)

    with pytest.raises(BadBulletin, match=r"bomb\.docx 解压后是原文件的 \d+ 倍"):
        read_bulletin_text(path)


def test_docx_looks_each_paragraph_style_up_once(tmp_path: Path, monkeypatch) -> None:
    # python-docx's Paragraph.style scans every style of the document (~3 ms): once per paragraph, a
    # 0.5 MB document.xml of short paragraphs took 33 s (now 1.6 s).
    path = tmp_path / "many.docx"
    titles = list(SAMPLE_ARTICLE_TITLES)
    make_docx(path, titles, [*SAMPLE_BULLETIN_LINES, *(f"第{n}段。" for n in range(300))])
    lookups = []
    style = docx.text.paragraph.Paragraph.style
    monkeypatch.setattr(docx.text.paragraph.Paragraph, "style",
                        property(lambda paragraph: lookups.append(1) or style.fget(paragraph)))

    text = read_bulletin_text(path)

    assert f"## {titles[0]}" in text and "第299段。" in text
    assert len(lookups) < 10  # once per style used, not once per paragraph (300 of them)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "utf-16"])
def test_text_files_in_each_encoding_decode_to_the_same_text(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / f"bulletin-{encoding}.txt"
    path.write_bytes(SAMPLE_TEXT.encode(encoding))

    assert read_bulletin_text(path) == SAMPLE_TEXT


def test_gb18030_sample_really_is_not_utf8() -> None:
    # Guards the test above: the GB18030 case only proves the fallback if UTF-8 rejects the bytes.
    with pytest.raises(UnicodeDecodeError):
        SAMPLE_TEXT.encode("gb18030").decode("utf-8")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_text_newlines_become_lf(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "windows.md"
    path.write_bytes(SAMPLE_TEXT.replace("\n", newline).encode("utf-8"))

    assert read_bulletin_text(path) == SAMPLE_TEXT


# --- unreadable files ------------------------------------------------------------------------


def _pdf_bytes(tmp_path: Path) -> bytes:
    make_pdf(tmp_path / "whole.pdf", SAMPLE_BULLETIN_LINES)
    return (tmp_path / "whole.pdf").read_bytes()


def _docx_bytes(tmp_path: Path) -> bytes:
    make_docx(tmp_path / "whole.docx", [], SAMPLE_BULLETIN_LINES)
    return (tmp_path / "whole.docx").read_bytes()


def _zip_without_word_parts(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "云山市")


def _password_protected_pdf(path: Path) -> None:
    pdf = canvas.Canvas(str(path), encrypt=pdfencrypt.StandardEncryption("secret", ownerPassword="owner"))
    pdf.drawString(60, 780, "Yunshan 12.34")
    pdf.showPage()
    pdf.save()


RANDOM_BYTES = b"\x00\x01" + random.Random(7).randbytes(4096)

BAD_FILES = {
    # case: (file name, writer, words the message must contain)
    "empty": ("empty.txt", lambda p, t: p.write_bytes(b""), "是空文件"),
    "whitespace only": ("blank.md", lambda p, t: p.write_bytes(b" \r\n\t \n"), "是空文件"),
    "empty pdf": ("empty.pdf", lambda p, t: p.write_bytes(b""), "是空文件"),
    "binary with NULs": ("random.txt", lambda p, t: p.write_bytes(RANDOM_BYTES), "像是二进制文件"),
    "control characters": ("ctrl.txt", lambda p, t: p.write_bytes(b"\x01\x02\x03\x04abc" * 100), "像是二进制文件"),
    "unknown encoding": ("latin1.txt", lambda p, t: p.write_bytes("café ÿ".encode("latin-1")), "无法识别文本编码"),
    "truncated pdf": ("cut.pdf", lambda p, t: p.write_bytes(_pdf_bytes(t)[:1500]), "不是可读的 PDF"),
    "not a pdf": ("fake.pdf", lambda p, t: p.write_bytes(b"%PDF-1.4\nnothing here"), "不是可读的 PDF"),
    "password pdf": ("locked.pdf", lambda p, t: _password_protected_pdf(p), "有密码保护"),
    "image-only pdf without text": ("scan.pdf", lambda p, t: make_image_only_pdf(p), "也没有找到文字"),
    "not an image": ("page.png", lambda p, t: p.write_bytes(b"\x89PNG\r\n\x1a\n" + RANDOM_BYTES), "不是可读的图片"),
    "zip garbage docx": ("junk.docx", lambda p, t: p.write_bytes(b"PK\x03\x04" + RANDOM_BYTES), "不是可读的 Word"),
    "zip without word parts": ("notword.docx", lambda p, t: _zip_without_word_parts(p), "不是可读的 Word"),
    "truncated docx": ("cut.docx", lambda p, t: p.write_bytes(_docx_bytes(t)[:3000]), "不是可读的 Word"),
    "docx without text": ("blank.docx", lambda p, t: make_docx(p, [], ["", "  "]), "空文件"),
    "unsupported suffix": ("old.doc", lambda p, t: p.write_text("云山市", encoding="utf-8"), ".txt、.md、.pdf、.docx"),
    "no suffix": ("README", lambda p, t: p.write_text("云山市", encoding="utf-8"), "不支持"),
    "missing file": ("gone.txt", lambda p, t: None, "无法读取：文件不存在"),
    "a folder": ("folder.txt", lambda p, t: p.mkdir(), "无法读取：这是文件夹"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_unreadable_file_raises_bad_bulletin_naming_the_file(tmp_path: Path, case: str) -> None:
    name, write, reason = BAD_FILES[case]
    path = tmp_path / name
    write(path, tmp_path)

    with pytest.raises(BadBulletin) as caught:
        read_bulletin_text(path)

    assert caught.value.message.startswith(name)  # the file first, then the reason
    assert reason in caught.value.message


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(qa.ingest.limits, "MAX_FILE_BYTES", 1024)
    path = tmp_path / "huge.txt"
    path.write_text("云山市" * 1000, encoding="utf-8")

    with pytest.raises(BadBulletin, match=r"huge\.txt .*上限"):
        read_bulletin_text(path)


def test_supported_suffixes_are_text_pdf_word_and_page_images() -> None:
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".pdf", ".docx", ".png", ".jpg", ".jpeg")


def test_suffix_case_does_not_matter(tmp_path: Path) -> None:
    path = tmp_path / "BULLETIN.TXT"
    path.write_bytes(SAMPLE_TEXT.encode("gb18030"))

    assert read_bulletin_text(path) == SAMPLE_TEXT
