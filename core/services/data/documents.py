"""Reports as files officials keep: an XLSX workbook of tables and a Chinese PDF with its title, the
facts it was made under (date, period, thresholds) and its tables.

The PDF uses the Adobe CID font STSong-Light that every PDF reader has for Chinese, so no font file
has to be shipped or found on the server.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import xlsxwriter
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

CJK_FONT = "STSong-Light"
Cell = str | int | float | None


@dataclass
class Sheet:
    """One table: a sheet of the workbook, a section of the PDF."""
    title: str
    header: list[str]
    rows: list[list[Cell]]
    widths: list[float] = field(default_factory=list)  # relative column widths in the PDF; [] = equal


def xlsx(title: str, facts: Sequence[str], sheets: Sequence[Sheet]) -> bytes:
    """A workbook: the first sheet 说明 lists the facts, then one sheet per table, header in row 1."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": title})
    bold = book.add_format({"bold": True})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    about = book.add_worksheet("说明")
    about.write(0, 0, title, bold)
    for i, line in enumerate(facts, start=1):
        about.write(i, 0, line)
    about.set_column(0, 0, 80)
    for sheet in sheets:
        ws = book.add_worksheet(sheet.title[:31])
        ws.write_row(0, 0, sheet.header, header)
        for r, row in enumerate(sheet.rows, start=1):
            ws.write_row(r, 0, row)
        for c, name in enumerate(sheet.header):
            longest = max([len(str(name))] + [len(str(row[c])) for row in sheet.rows[:200] if c < len(row)])
            ws.set_column(c, c, min(40, 2 + 1.6 * longest))
        ws.freeze_panes(1, 0)
    book.close()
    return buffer.getvalue()


def _registered() -> str:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _cell(value: Cell, style: ParagraphStyle) -> Any:
    return Paragraph("" if value is None else str(value).replace("&", "&amp;").replace("<", "&lt;"), style)


def pdf(title: str, facts: Sequence[str], sheets: Sequence[Sheet]) -> bytes:
    """A landscape A4 document: title, facts, then each table with its header repeated on every page."""
    font = _registered()
    heading = ParagraphStyle("h", fontName=font, fontSize=16, leading=22, spaceAfter=4 * mm)
    section = ParagraphStyle("s", fontName=font, fontSize=12, leading=16, spaceBefore=5 * mm, spaceAfter=2 * mm)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=12)
    small = ParagraphStyle("c", fontName=font, fontSize=8, leading=10, wordWrap="CJK")
    buffer = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(buffer, pagesize=page, title=title, leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm)
    story: list[Any] = [Paragraph(title, heading)] + [Paragraph(line, body) for line in facts]
    usable = page[0] - 24 * mm
    for sheet in sheets:
        story += [Spacer(1, 2 * mm), Paragraph(sheet.title, section)]
        if not sheet.rows:
            story.append(Paragraph("（无）", body))
            continue
        weights = sheet.widths or [1.0] * len(sheet.header)
        widths = [usable * w / sum(weights) for w in weights]
        data = [[_cell(h, small) for h in sheet.header]] + [[_cell(v, small) for v in row] for row in sheet.rows]
        table = Table(data, colWidths=widths, repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        story.append(table)
    doc.build(story)
    return buffer.getvalue()
