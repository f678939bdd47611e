"""Who may read and write a post-incident record: roles without edit get 403, other bodies 404."""
from __future__ import annotations

import pytest

from app.core.db import db
from app.records.models import PostIncidentRecord
from tests.records.helpers import BODY, create, get_record, put_record, record_url, saved
from tests.workflow.helpers import assert_error


@pytest.mark.parametrize("role", ["security_manager", "security_officer", "system_admin", "auditor"])
def test_roles_without_edit_read_but_cannot_put(client, factory, role):
    csirt_h = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident_id = create(client, csirt_h)["id"]
    headers = factory.headers(factory.user({"ageo": [role]}))
    assert get_record(client, headers, incident_id)["saved"] is False
    assert_error(put_record(client, headers, incident_id), 403)
    assert db.session.query(PostIncidentRecord).count() == 0

    saved(client, csirt_h, incident_id)
    assert get_record(client, headers, incident_id)["cause"] == BODY["cause"]
    assert_error(put_record(client, headers, incident_id, version=1, cause="書き換え"), 403)
    assert get_record(client, csirt_h, incident_id)["version"] == 1


def test_reporter_cannot_put_on_their_own_incident(client, factory):
    reporter = factory.user({"ageo": ["reporter"]})
    headers = factory.headers(reporter)
    incident_id = create(client, headers)["id"]
    assert get_record(client, headers, incident_id)["saved"] is False  # they see what they reported
    assert_error(put_record(client, headers, incident_id), 403)
    assert db.session.query(PostIncidentRecord).count() == 0


def test_reporter_does_not_see_others_incidents(client, factory):
    incident_id = create(client, factory.headers(factory.user({"ageo": ["csirt"]})))["id"]
    headers = factory.headers(factory.user({"ageo": ["reporter"]}))
    assert_error(client.get(record_url(incident_id), headers=headers), 404)
    assert_error(put_record(client, headers, incident_id), 404)


def test_put_error_order_422_before_403(client, factory):
    """API.md: invalid (422) is reported before not allowed (403)."""
    incident_id = create(client, factory.headers(factory.user({"ageo": ["csirt"]})))["id"]
    headers = factory.headers(factory.user({"ageo": ["auditor"]}))
    assert_error(put_record(client, headers, incident_id, policy_clauses=["99-9"]), 422, field="policy_clauses")
    assert_error(put_record(client, headers, incident_id, bogus=1), 422, field="bogus")


def test_another_bodys_user_gets_404_everywhere(client, factory):
    csirt_h = factory.headers(factory.user({"ageo": ["csirt"]}))
    incident_id = create(client, csirt_h)["id"]
    rid = saved(client, csirt_h, incident_id)["recommendations"][0]["id"]
    saga = factory.headers(factory.user({"saga": ["csirt", "ciso", "admin"]}))

    assert_error(client.get(record_url(incident_id), headers=saga), 404)
    assert_error(put_record(client, saga, incident_id, policy_clauses=["6-5"], recommendations=[]), 404)
    assert_error(client.post(record_url(incident_id, "/approve"), headers=saga), 404)
    assert_error(client.patch(record_url(incident_id, f"/recommendations/{rid}"), headers=saga,
                              json={"status": "adopted"}), 404)
    record = get_record(client, csirt_h, incident_id)
    assert record["version"] == 1 and record["recommendations"][0]["status"] == "proposed"


def test_no_token_is_401(client, factory):
    incident_id = create(client, factory.headers(factory.user({"ageo": ["csirt"]})))["id"]
    assert_error(client.get(record_url(incident_id)), 401)
    assert_error(client.put(record_url(incident_id), json=BODY), 401)
