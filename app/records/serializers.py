"""The JSON and Markdown shapes of a post-incident record."""
from __future__ import annotations

from app.core.markdown import render_markdown
from app.core.timeutil import format_display, iso_utc, parse_iso
from app.incidents.models import Incident
from app.organizations.services import get_profile
from app.records.models import PostIncidentRecord
from app.records.services import STATUS_LABELS, TIME_LABELS, draft, key_times

TEXT_FIELDS = {"cause": "原因", "impact": "被害・影響", "measures": "対応措置", "prevention": "再発防止策"}


def record_json(incident: Incident, record: PostIncidentRecord | None) -> dict:
    """The saved record, or before any save a draft from the incident with `saved: false`."""
    texts = {name: getattr(record, name) for name in TEXT_FIELDS} if record else draft(incident)
    body = {"incident": incident.id, "reference": incident.reference, "saved": record is not None} | texts
    body |= {f"{name}_html": str(render_markdown(texts[name])) for name in TEXT_FIELDS}
    body |= {
        "policy_clauses": list(record.policy_clauses) if record else [],
        "recommendations": [{"id": r.id, "text": r.text, "clause": r.clause, "status": r.status}
                            for r in record.recommendations] if record else [],
        "times": dict(record.times) if record and record.approved_at else key_times(incident),
        "version": record.version if record else None,
        "saved_at": iso_utc(record.saved_at) if record else None,
        "saved_by": record.saved_by.email if record and record.saved_by else None,
        "approved_at": iso_utc(record.approved_at) if record else None,
        "approved_by": record.approved_by.email if record and record.approved_by else None,
    }
    return body


def record_markdown(incident: Incident, record: PostIncidentRecord | None) -> str:
    """A Markdown document of the record, for passing around (Word, mail, the committee)."""
    data = record_json(incident, record)
    profile = get_profile(incident.organization.code)
    clauses = {c.code: c for c in profile.policy_clauses}
    lines = [f"# 事後報告 {incident.reference}", "", f"- 団体: {profile.name}", f"- 件名: {incident.title}",
             f"- 状態: {'承認済み（' + format_display(record.approved_at) + '）' if record and record.approved_at else '未承認'}", "",
             "## 経過", ""]
    for name, label in TIME_LABELS.items():
        value = data["times"].get(name)
        lines.append(f"- {label}: {format_display(parse_iso(value)) if value else '—'}")
    for name, label in TEXT_FIELDS.items():
        lines += ["", f"## {label}", "", data[name].strip() or "（未記入）"]
    lines += ["", "## 関係する基本方針の条項", ""]
    lines += [f"- {clauses[c].clause or c} {clauses[c].label}" if c in clauses else f"- {c}" for c in data["policy_clauses"]] \
        or ["（なし）"]
    lines += ["", "## 見直しへの提言", ""]
    lines += [f"- [{STATUS_LABELS[r['status']]}] {r['text']}" +
              (f"（{clauses[r['clause']].clause or r['clause']}）" if r["clause"] in clauses else "")
              for r in data["recommendations"]] or ["（なし）"]
    return "\n".join(lines) + "\n"
