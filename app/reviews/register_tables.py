"""The risk register's part of the review as (title, header, rows) tables: the page, Markdown, XLSX
and the CSV summary show them like the review's other sections."""
from __future__ import annotations

from app.core.timeutil import format_display, parse_iso
from app.incidents.models import SEVERITY_LABELS, Severity
from app.risks.schemas import Register
from app.risks.serializers import SOURCE_LABELS

REGISTER_TITLE = "リスク登録簿（評価と期間中の実績）"
DISAGREEMENT_TITLE = "評価と実績の不一致"
RECOMMENDATION_TITLE = "情報セキュリティ委員会への提言（リスク登録簿から）"
CHANGE_LABELS = {"new": "新規", "raised": "上昇", "lowered": "低下", "reassessed": "再評価（同値）", "unchanged": "変更なし"}
KIND_LABELS = {"likelihood": "発生の可能性", "loss": "発生時の損失", "unassessed": "未評価"}
RECOMMENDATION_KINDS = {"reassess_likelihood": "再評価", "reassess_loss": "再評価", "assess": "新たな評価",
                        "finding_overdue": "指摘への対応", "circumstance": "状況の変化"}


def _when(value: str | None) -> str:
    return format_display(parse_iso(value)) if value else ""


def _severity(code: str | None) -> str:
    return str(SEVERITY_LABELS[Severity(code)]) if code else "—"


def register_sections(register: Register, categories: list[dict], segments: dict[str, str], several: bool,
                      previous_label: str) -> list[tuple[str, list[str], list[list]]]:
    """`categories`: the review's (code, label, subcategories); `several`: the review covers several
    bodies, so each row names its body."""
    def named(label: str, code: str) -> str:
        return f"{label}（{code}）" if several else label

    category = {c["code"]: c for c in categories}

    def threat(code: str | None, sub: str | None = None) -> str:
        if not code:
            return ""
        found = category.get(code, {"label": code, "subcategories": {}})
        return found["label"] + (f" / {found['subcategories'].get(sub, sub)}" if sub else "")

    rows = []
    for row in register.rows:
        before = f"{row.previous.likelihood}×{row.previous.loss}={row.previous.score}" if row.previous else "—"
        rows.append([named(row.label, row.organization), f"{row.likelihood} {row.likelihood_label}",
                     f"{row.loss} {row.loss_label}", row.score, before, CHANGE_LABELS[row.change], row.version,
                     row.inputs.incidents, _severity(row.inputs.worst_severity), row.inputs.near_misses,
                     row.inputs.open_findings, row.inputs.changes, "、".join(KIND_LABELS[k] for k in row.disagreements) or "—",
                     row.assessed_by or "", _when(row.assessed_at), row.reason])
    history = [[named(row.label, row.organization), old.version, f"{old.likelihood} {old.likelihood_label}",
                f"{old.loss} {old.loss_label}", old.score, old.assessed_by or "", _when(old.assessed_at),
                _when(old.superseded_at), old.reason] for row in register.rows for old in row.history]
    disagreements = [[KIND_LABELS[d.kind], named(d.label, d.organization), "—" if d.assessed is None else d.assessed,
                      d.observed, d.threshold if d.threshold is not None else "—", d.message] for d in register.disagreements]
    near_misses = [[n.receipt, named(n.title, n.organization), threat(n.threat_category, n.subcategory),
                    segments.get(n.segment, n.segment) if n.segment else "", _when(n.occurred_at), n.note]
                   for n in register.near_misses]
    findings = [[SOURCE_LABELS[f.source], named(f.clause_label, f.organization), f.rating_label, f.text,
                 threat(f.threat_category), f.found_on, f.due_on, f.resolved_on or "", "超過" if f.overdue else ""]
                for f in register.findings]
    changes = [[c.noted_on, c.kind_label, named(c.text, c.organization), threat(c.threat_category)]
               for c in register.circumstances]
    recommendations = [[RECOMMENDATION_KINDS[r.kind], named(r.text, r.organization), r.basis] for r in register.recommendations]
    return [
        (REGISTER_TITLE, ["対象（脅威・分類・ネットワーク）", "発生の可能性", "発生時の損失", "リスク値",
                          f"前回（{previous_label}末）", "変化", "版", "インシデント", "最も重い重大度", "ヒヤリハット",
                          "未完了の指摘", "状況の変化", "不一致", "評価者", "評価日時", "理由"], rows),
        (DISAGREEMENT_TITLE, ["種別", "対象", "評価", "実績", "目安", "内容"], disagreements),
        ("ヒヤリハット", ["受付番号", "件名", "脅威", "ネットワーク", "日時", "メモ"], near_misses),
        ("監査・自己点検の指摘", ["区分", "条項", "評価", "内容", "脅威区分", "指摘日", "対応期限", "対応日", "期限"], findings),
        ("状況の変化", ["日付", "種別", "内容", "脅威区分"], changes),
        ("リスク登録簿の評価の履歴", ["対象", "版", "発生の可能性", "発生時の損失", "リスク値", "評価者", "評価日時",
                                           "次の評価の日時", "理由"], history),
        (RECOMMENDATION_TITLE, ["種別", "提言", "根拠"], recommendations),
    ]
