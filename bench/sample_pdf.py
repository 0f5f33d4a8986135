"""A monthly bulletin as a PDF with a text layer (reportlab, its built-in STSong-Light CJK font), for the
figures that time a new PDF from upload or `qa add` to a correct answer. The bulletin is invented."""

from __future__ import annotations

from pathlib import Path

ARTICLE_TITLE = "临川市推进氢能装备产业发展"
QUESTION = "临川市加氢站日加氢能力达到多少？"
ANSWER = "16.8吨"
_LINES = [
    "科技情报参考",
    "{label}",
    "呼和浩特市科学技术局综合保障中心 编辑",
    f"★ {ARTICLE_TITLE} ........ 2",
    ARTICLE_TITLE,
    "今年以来，临川市围绕氢能装备制造布局产业链，安排市级科技专项资金8.6亿元，支持企业攻关电堆和储氢瓶",
    "等关键部件。全市建成加氢站12座，日加氢能力达到16.8吨，较上年增长37.5%。",
    "临川市同步设立规模20亿元的氢能产业基金，对首台（套）装备按售价的15%给予最高600万元奖励。",
]


def write_bulletin_pdf(path: Path, issue_label: str) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setFont("STSong-Light", 11)
    top = A4[1] - 60
    for row, line in enumerate(_LINES):
        pdf.drawString(40, top - 20 * row, line.format(label=issue_label))
    pdf.showPage()
    pdf.save()
    return path
