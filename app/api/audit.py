from flask import jsonify

from app.api import bp
from app.api.errors import api_user
from app.audit.services import verify
from app.core.errors import Forbidden
from app.core.permissions import Permission
from app.incidents.access import can


@bp.get("/audit/verify")
def audit_verify():
    user = api_user()
    if not any(can(user, Permission.AUDIT_VERIFY, org_id) for org_id in user.organization_ids()):
        raise Forbidden("only auditors and admins may verify the audit log")
    return jsonify(verify().as_dict())
