"""Each form a bulletin arrives in — text PDF, two-column PDF, Word, scanned PDF, page image — reads
back as the same articles as its plain-text version. Fixtures are rendered in tmp_path."""

from __future__ import annotations

import io
import sys
import zipfile
from difflib import SequenceMatcher
from pathlib import Path

import pytest
from PIL import Image

import qa.ingest.limits
import qa.ingest.ocr
from bench.fixture_bulletins import HEMA, YUNSHAN
from bench.render import ArticleSpec, BulletinSpec, bulletin_text, write_docx, write_page_images, write_scan_pdf, \
    write_text_pdf
from qa.corpus import parse_bulletin, read_issue
from qa.errors import BadBulletin
from qa.ingest import read_bulletin

SMALL = BulletinSpec(label="2024年第9期", articles=YUNSHAN.articles[2:4])


def _reference(spec: BulletinSpec):
    return parse_bulletin(bulletin_text(spec), "reference.txt")


def _similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@pytest.mark.parametrize("spec", [YUNSHAN, HEMA], ids=["one column, three pages", "two columns"])
def test_text_pdf_reads_exactly_like_the_text_version(tmp_path: Path, spec: BulletinSpec) -> None:
    path = tmp_path / "bulletin.pdf"
    assert write_text_pdf(spec, path) >= 1

    issue, reference = read_issue(path), _reference(spec)

    assert issue.label == spec.label
    # wrapped headings come back whole ("…“制储输用”全链条布局初见成效"), columns in reading order
    assert [a.title for a in issue.articles] == [a.title for a in spec.articles]
    assert [a.text for a in issue.articles] == [a.text for a in reference.articles]
    assert all(a.ocr_confidence is None for a in issue.articles)


def test_running_header_footer_and_page_numbers_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "bulletin.pdf"
    assert write_text_pdf(YUNSHAN, path) >= 2

    text = read_bulletin(path).text

    assert "选析情报精华" not in text
    assert "《科技情报参考》2024年第3期" not in text  # the running header
    assert not any(line.strip().isdigit() for line in text.splitlines())


def test_bylines_become_authors_in_every_form(tmp_path: Path) -> None:
    write_text_pdf(YUNSHAN, tmp_path / "b.pdf")
    write_docx(YUNSHAN, tmp_path / "b.docx")
    (tmp_path / "b.txt").write_text(bulletin_text(YUNSHAN), encoding="utf-8")
    for path in (tmp_path / "b.pdf", tmp_path / "b.docx", tmp_path / "b.txt"):
        issue = read_issue(path)
        assert [a.author for a in issue.articles] == [a.byline for a in YUNSHAN.articles], path.name
        assert not any("某某" in a.text for a in issue.articles), path.name


def test_word_file_reads_exactly_like_the_text_version(tmp_path: Path) -> None:
    path = tmp_path / "bulletin.docx"
    write_docx(YUNSHAN, path)

    issue, reference = read_issue(path), _reference(YUNSHAN)

    assert [a.title for a in issue.articles] == [a.title for a in reference.articles]
    assert [a.text for a in issue.articles] == [a.text for a in reference.articles]


def test_docx_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"<w:document>" + b" " * (200 * 2**20))
    assert path.stat().st_size < 2**20

    with pytest.raises(BadBulletin, match=r"bomb\.docx 解压后有 200 MB，超过上限 100 MB"):
        read_bulletin(path)


def test_pdf_over_the_page_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "long.pdf"
    pages = write_text_pdf(YUNSHAN, path)
    monkeypatch.setattr(qa.ingest.limits, "MAX_PAGES", pages - 1)

    with pytest.raises(BadBulletin, match=rf"long\.pdf 有 {pages} 页，超过上限 {pages - 1} 页"):
        read_bulletin(path)


def test_huge_page_image_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "poster.png"
    Image.new("1", (6000, 6000), 1).save(path)  # 36 MP, a few KB on disk

    with pytest.raises(BadBulletin, match=r"poster\.png：图像有 6000×6000 像素，超过每页上限 1200 万像素"):
        read_bulletin(path)


# --- OCR -------------------------------------------------------------------------------------


def test_page_image_without_ocr_installed_names_the_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "page.png"
    Image.new("L", (200, 100), 255).save(path)
    monkeypatch.setattr(qa.ingest.ocr, "_engine", None)
    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # importing it now raises ImportError

    with pytest.raises(BadBulletin, match=r"^page\.png 需要文字识别（OCR），但本机无法使用"):
        read_bulletin(path)


@pytest.mark.ocr
def test_scanned_pdf_reads_like_the_text_version(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    write_scan_pdf(SMALL, path, dpi=150)
    assert read_bulletin(path).form == "scan"

    issue, reference = read_issue(path), _reference(SMALL)

    assert [a.title for a in issue.articles] == [a.title for a in reference.articles]
    for got, want in zip(issue.articles, reference.articles):
        assert _similarity(got.text, want.text) >= 0.97, got.text
        assert got.ocr_confidence is not None and 0.8 <= got.ocr_confidence <= 1.0
    assert "636家" in issue.articles[0].text and "3.27亿元" in issue.articles[1].text


# Titles that set a space (an em space in print) before an opening quote
SPACE_BEFORE_QUOTE = (YUNSHAN.articles[0].title, "青石县深化农机装备研发 “揭榜挂帅”破解技术难题",
                      "宁川县优化创新创业生态 “众创空间”数量居全省前列", "白河市深化科技成果赋权改革 “双高地”建设提速",
                      "松原区推行科技特派员制度 “组团式”服务覆盖全区")


@pytest.mark.ocr
def test_scan_keeps_the_space_before_a_narrow_quote_and_adds_none_after_punctuation(tmp_path: Path) -> None:
    # The proportional “ is narrower than a character, and the recogniser's character boxes, all one
    # average width, show little of the gap before it. The byline's 、 leaves most of its em blank
    # after its ink, which is no space.
    bylines = ("王某某、李某某 云山市科学技术局", None, None, None, None)
    articles = tuple(ArticleSpec(title, source.paragraphs[:1], byline)
                     for title, source, byline in zip(SPACE_BEFORE_QUOTE, YUNSHAN.articles, bylines))
    spec = BulletinSpec(label="2024年第3期", articles=articles, toc=False)
    path = tmp_path / "scan.pdf"
    write_scan_pdf(spec, path, dpi=150)

    issue, reference = read_issue(path), _reference(spec)

    assert [a.title for a in issue.articles] == [a.title for a in reference.articles] == list(SPACE_BEFORE_QUOTE)
    assert issue.articles[0].author == reference.articles[0].author == bylines[0]


@pytest.mark.ocr
def test_page_image_is_recognised(tmp_path: Path) -> None:
    single = BulletinSpec(label="2024年第9期", articles=(YUNSHAN.articles[3],), toc=False)
    [png] = write_page_images(single, tmp_path, dpi=150)
    jpg = png.with_suffix(".jpg")
    Image.open(png).convert("L").save(jpg, quality=85)

    for path in (png, jpg):
        issue = read_issue(path)
        assert issue.label == "2024年第9期"
        assert [a.title for a in issue.articles] == [single.articles[0].title]
        assert "转化合同金额达到3.27亿元" in issue.articles[0].text


@pytest.mark.ocr
def test_ocr_over_its_time_budget_is_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "slow.pdf"
    write_scan_pdf(BulletinSpec(label="2024年第9期", articles=(ArticleSpec("短文", ("云山市。",)),), toc=False), path)
    monkeypatch.setattr(qa.ingest.limits, "OCR_SECONDS_PER_PAGE", 0.0)

    with pytest.raises(BadBulletin, match=r"slow\.pdf：识别第 1 页用了 \d+ 秒，超过每页上限 0 秒"):
        read_bulletin(path)
