"""The lab's money report as files for its accountants: CSV (UTF-8 with a BOM, so Excel reads the
Chinese) and XLSX (money as numbers formatted in yuan, times as real dates in the platform's zone)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import xlsxwriter

from core.services.orders.lab_money import MoneyReport

LINE_HEADER = ["结算时间", "订单号", "服务项目", "委托单位", "订单状态", "订单金额（元）", "结算给本机构（元）",
               "其中创新券（元）", "其中现金（元）"]
MONTH_HEADER = ["月份", "结算笔数", "结算金额（元）", "其中创新券（元）", "其中现金（元）"]
REDEMPTION_HEADER = ["兑付时间", "订单号", "用券企业", "创新券编号", "兑付金额（元）"]
OWED_HEADER = ["项目", "订单号", "订单状态", "金额（元）", "其中创新券（元）"]
SHEETS = ("月度汇总", "结算明细", "创新券兑付", "应付与托管")


def _yuan(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _local(moment: datetime, tz: str) -> datetime:
    # Excel has no time zones: the wall-clock time the lab lives in, without an offset
    return moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def money_csv(report: MoneyReport, tz: str) -> bytes:
    """The settlement lines of the period, one row per credit to the lab's account."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LINE_HEADER)
    for line in report.lines:
        writer.writerow([_local(line.settled_at, tz).strftime("%Y-%m-%d %H:%M"), line.order_number,
                         line.service_name, line.company_name, line.status, _yuan(line.total_cents),
                         _yuan(line.lab_cents), _yuan(line.voucher_cents), _yuan(line.cash_cents)])
    writer.writerow(["合计", "", "", "", "", "", _yuan(report.lab_cents), _yuan(report.voucher_cents),
                     _yuan(report.cash_cents)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def money_xlsx(report: MoneyReport, institution_name: str, tz: str) -> bytes:
    """A workbook of four sheets (SHEETS), each with its header in the first row."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": f"{institution_name} 财务报表 {report.start} 至 {report.end}"})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    money = book.add_format({"num_format": "¥#,##0.00"})
    money_bold = book.add_format({"num_format": "¥#,##0.00", "bold": True})
    bold = book.add_format({"bold": True})
    moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    month = book.add_format({"num_format": "yyyy-mm"})

    def sheet(name: str, columns: list[str], widths: list[int]):  # type: ignore[no-untyped-def]
        ws = book.add_worksheet(name)
        ws.write_row(0, 0, columns, header)
        for i, width in enumerate(widths):
            ws.set_column(i, i, width)
        ws.freeze_panes(1, 0)
        return ws

    ws = sheet(SHEETS[0], MONTH_HEADER, [10, 10, 16, 16, 16])
    for row, m in enumerate(report.months, start=1):
        ws.write_datetime(row, 0, datetime.strptime(m.month, "%Y-%m"), month)
        ws.write_number(row, 1, m.orders)
        for col, cents in enumerate((m.lab_cents, m.voucher_cents, m.cash_cents), start=2):
            ws.write_number(row, col, cents / 100, money)
    total_row = len(report.months) + 1
    ws.write(total_row, 0, "合计", bold)
    ws.write_number(total_row, 1, sum(m.orders for m in report.months), bold)
    for col, cents in enumerate((report.lab_cents, report.voucher_cents, report.cash_cents), start=2):
        ws.write_number(total_row, col, cents / 100, money_bold)

    ws = sheet(SHEETS[1], LINE_HEADER, [17, 22, 30, 26, 12, 14, 16, 16, 14])
    for row, line in enumerate(report.lines, start=1):
        ws.write_datetime(row, 0, _local(line.settled_at, tz), moment)
        ws.write_row(row, 1, [line.order_number, line.service_name, line.company_name, line.status])
        for col, cents in enumerate((line.total_cents, line.lab_cents, line.voucher_cents, line.cash_cents), start=5):
            ws.write_number(row, col, cents / 100, money)

    ws = sheet(SHEETS[2], REDEMPTION_HEADER, [17, 22, 30, 12, 16])
    for row, r in enumerate(report.redemptions, start=1):
        ws.write_datetime(row, 0, _local(r.closed_at, tz), moment)
        ws.write_row(row, 1, [r.order_number, r.company_name, r.voucher_id])
        ws.write_number(row, 4, r.cents / 100, money)
    last = len(report.redemptions) + 1
    ws.write(last, 0, "对账单合计", bold)
    ws.write_number(last, 4, report.statement_cents / 100, money_bold)

    owed = report.owed
    ws = sheet(SHEETS[3], OWED_HEADER, [36, 22, 12, 16, 16])
    ws.write_row(1, 0, [f"{owed.institution_name}（结算账户余额，平台应付）", "", ""])
    ws.write_number(1, 3, owed.account_cents / 100, money)
    ws.write_number(1, 4, owed.voucher_cents / 100, money)
    for row, held in enumerate(owed.held, start=2):
        ws.write_row(row, 0, ["托管中（订单未完结）", held.order_number, held.status])
        ws.write_number(row, 3, held.held_cents / 100, money)
        ws.write_number(row, 4, held.voucher_cents / 100, money)
    book.close()
    return buffer.getvalue()


def export_name(institution_code: str, start: date, end: date, extension: str) -> str:
    return f"money-{institution_code}-{start.isoformat()}-{end.isoformat()}.{extension}"
