from flask import jsonify

from app.api import bp
from app.api.errors import api_user
from app.organizations.services import organization_summary, organizations_by_ids


@bp.get("/organizations")
def list_organizations():
    orgs = organizations_by_ids(api_user().organization_ids())
    items = [organization_summary(org) for org in orgs]
    return jsonify({"items": items, "total": len(items)})
