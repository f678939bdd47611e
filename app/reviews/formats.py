"""The review as Markdown, CSV (incident rows, UTF-8 with BOM for Excel) and XLSX (a sheet per
section). Incident rows are streamed from the database, never held all at once."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from app.core.timeutil import format_display
from app.incidents.models import SEVERITY_LABELS, SOURCE_LABELS, STAGE_LABELS
from app.reviews import queries
from app.reviews.periods import Period
from app.reviews.register_tables import register_sections
from app.reviews.report import LIKELIHOOD_LABELS, LOSS_LABELS, Review

FIGURE_LABELS = {"acknowledge": "受領（確認）まで", "contain": "被害拡大の防止まで", "recover": "復旧まで",
                 "close": "終結まで"}
SEGMENT_LABELS = {"mynumber": "マイナンバー利用事務系", "lgwan": "LGWAN接続系", "internet": "インターネット接続系"}
STATUS_LABELS = {"proposed": "提案", "adopted": "採用", "rejected": "不採用", "done": "実施済"}
CSV_HEADER = ["番号", "団体", "件名", "脅威区分", "小区分", "重大度", "報告元", "段階", "非該当", "検知日時",
              "受領日時", "被害拡大防止日時", "復旧日時", "終結日時", "id"]


def hours(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.1f} 時間"


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text a spreadsheet would read as a formula (=HYPERLINK(…) in a title typed by anyone) is
    prefixed with an apostrophe, which Excel shows as plain text (OWASP's CSV injection advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _incident_cells(row) -> list:
    return [row.reference, row.organization, row.title, row.threat_category, row.subcategory or "",
            str(SEVERITY_LABELS[row.severity]), str(SOURCE_LABELS[row.source]), str(STAGE_LABELS[row.stage]),
            "非該当" if row.not_incident else "", format_display(row.detected_at), format_display(row.acknowledged_at),
            format_display(row.contained_at), format_display(row.recovered_at), format_display(row.closed_at), row.id]


def csv_chunks(review: Review, period: Period) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    for row in queries.incident_rows(review.organization_ids, period):
        writer.writerow([spreadsheet_safe(cell) for cell in _incident_cells(row)])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def summary_csv(review: Review) -> str:
    """Every table of the review, one CSV row per table row with the table's title first (UTF-8 with BOM)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for title, header, rows in sections(review):
        writer.writerow([title, *header])
        for row in rows:
            writer.writerow([spreadsheet_safe(cell) for cell in [title, *row]])
    return buffer.getvalue()


def _subcategory_labels(review: Review) -> dict[str, str]:
    """"category/subcategory" keys of the counts → 「区分 / 小区分」 (「（小区分なし）」 for none)."""
    labels = {}
    for key in {**review.current.by_subcategory, **review.previous.by_subcategory}:
        code, sub = key.split("/", 1)
        category = next((c for c in review.categories if c["code"] == code), {"label": code, "subcategories": {}})
        labels[key] = f"{category['label']} / {category['subcategories'].get(sub, '（小区分なし）' if sub == '-' else sub)}"
    return dict(sorted(labels.items()))


def _compare_rows(review: Review, key: str, labels: dict) -> list[tuple[str, int, int]]:
    current, previous = getattr(review.current, key), getattr(review.previous, key)
    codes = list(labels) + [c for c in {**current, **previous} if c not in labels]
    return [(labels.get(code, code), current.get(code, 0), previous.get(code, 0)) for code in codes
            if current.get(code, 0) or previous.get(code, 0) or code in labels]


def sections(review: Review) -> list[tuple[str, list[str], list[list]]]:
    """(title, header, rows) of each table: shared by Markdown, XLSX and the page."""
    previous = review.previous.period.label
    current = review.label
    head = ["", current, previous]
    categories = {c["code"]: c["label"] for c in review.categories}
    out = [
        ("件数", head, [["合計", review.current.total, review.previous.total],
                        ["うち非該当", review.current.not_incident, review.previous.not_incident]]),
        ("脅威区分別", head, [list(r) for r in _compare_rows(review, "by_threat_category", categories)]),
        ("小区分別", head, [list(r) for r in _compare_rows(review, "by_subcategory", _subcategory_labels(review))]),
        ("重大度別", head, [list(r) for r in _compare_rows(review, "by_severity", {k.value: str(v) for k, v in SEVERITY_LABELS.items()})]),
        ("ネットワーク別", head, [list(r) for r in _compare_rows(review, "by_segment", SEGMENT_LABELS)]),
        ("報告元別", head, [list(r) for r in _compare_rows(review, "by_source", {k.value: str(v) for k, v in SOURCE_LABELS.items()})]),
    ]
    times = []
    for name, label in FIGURE_LABELS.items():
        now, before = review.current.response_times[name], review.previous.response_times[name]
        times.append([label, now["n"], hours(now["median_s"]), hours(now["p90_s"]), before["n"],
                      hours(before["median_s"]), hours(before["p90_s"])])
    out.append(("対応時間（検知から）", ["", "件数", "中央値", "90パーセンタイル", f"件数（{previous}）", "中央値", "90パーセンタイル"], times))
    levels = sorted(set(review.current.escalation_levels) | set(review.previous.escalation_levels))
    out.append(("エスカレーションが到達した段階", head, [[f"第{lv}段階", review.current.escalation_levels.get(lv, 0),
                                                   review.previous.escalation_levels.get(lv, 0)] for lv in levels]))
    deadlines = []
    for row in review.current.deadlines["by_kind"].values():
        deadlines.append([row["label"], row["due"], row["on_time"], row["late"], row["open"], row["overdue"]])
    total = review.current.deadlines["total"]
    deadlines.append(["合計", total["due"], total["on_time"], total["late"], total["open"], total["overdue"]])
    before = review.previous.deadlines["total"]
    deadlines.append([f"合計（{previous}）", before["due"], before["on_time"], before["late"], before["open"], before["overdue"]])
    out.append(("法令上の報告期限", ["", "対象", "期限内", "期限後", "未了", "うち超過"], deadlines))
    risk = [[r["label"], r["incidents"], r["per_year"], f"{r['likelihood']} {LIKELIHOOD_LABELS[r['likelihood']]}",
             f"{r['loss']} {LOSS_LABELS[r['loss']]}", r["score"],
             next((p["score"] for p in review.previous.risk_matrix["categories"] if p["code"] == r["code"]), "—")]
            for r in review.current.risk_matrix["categories"]]
    out.append(("リスク評価（脅威区分別）", ["", "件数（評価期間）", "年間件数", "発生の可能性", "発生時の損失", "リスク値", f"リスク値（{previous}）"], risk))
    recs = [[g["label"] + (f"（{g['organization']}）" if review.organization == "all" else ""), STATUS_LABELS[i["status"]],
             i["text"], i["reference"]] for g in review.recommendations for i in g["items"]]
    out.append(("見直しへの提言（未了の提案・採用）", ["条項", "状態", "提言", "インシデント"], recs))
    return out + register_sections(review.register, review.categories, SEGMENT_LABELS, review.organization == "all", previous)


def markdown(review: Review) -> str:
    lines = [f"# 情報セキュリティインシデントの振り返り {review.label}", "", f"- 団体: {review.name}",
             f"- 期間: {review.period['from']} 〜 {review.period['to']}（検知日、日本時間）",
             f"- 比較: {review.previous.period.label}", ""]
    for title, header, rows in sections(review):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["（なし）", ""]
            continue
        lines += ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
        lines.append("")
    lines += ["## リスク評価の方法", "", review.current.risk_matrix["method"], ""]
    return "\n".join(lines)


def _text_cells(sheet, values: list) -> list:
    """Cells typed as text: openpyxl would store a string starting with = as a formula."""
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        cells.append(cell)
    return cells


def xlsx(review: Review, period: Period) -> bytes:
    book = Workbook(write_only=True)
    for title, header, rows in sections(review):
        sheet = book.create_sheet(re.sub(r"[\[\]:*?/\\]", "・", title)[:31])
        sheet.append([f"{review.name} {review.label} — {title}"])
        sheet.append(header)
        for row in rows:
            sheet.append(_text_cells(sheet, row))
    sheet = book.create_sheet("インシデント一覧")
    sheet.append(CSV_HEADER)
    for row in queries.incident_rows(review.organization_ids, period):
        sheet.append(_text_cells(sheet, _incident_cells(row)))
    sheet = book.create_sheet("評価方法")
    sheet.append([review.current.risk_matrix["method"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
