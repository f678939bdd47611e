"""The profile page of a body: what the policy says and where the product's rules for it come
from (its seed's clauses, what it inherits, and what is only inferred)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from app.core.playbooks import playbooks
from app.organizations.services import get_profile, organization_by_code

bp = Blueprint("organizations", __name__, url_prefix="/organizations")

SECTION_LABELS = {"emergency_plan": _l("緊急時対応計画"), "network_segments": _l("ネットワーク区分"),
                  "asset_classification": _l("情報資産の分類")}


@bp.get("/<code>")
@login_required
def profile(code: str):
    """Any member of the body may read it (the policy is public); another body's is 404."""
    organization = organization_by_code(code)
    if organization is None or organization.id not in current_user.organization_ids():
        abort(404)
    profile = get_profile(code)
    parent = get_profile(profile.parent) if profile.parent else None
    return render_template("organizations/profile.html", profile=profile, parent=parent,
                           rule_sets=playbooks().reporting_rules, section_labels=SECTION_LABELS)
