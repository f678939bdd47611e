"""Test data through the real services (no hand-built rows that skip the rules)."""
from __future__ import annotations

import datetime as dt
import itertools
import re

from app.auth.models import Membership, User
from app.auth.services import create_api_token, hash_password
from app.core.db import db
from app.incidents.schemas import IncidentCreate
from app.incidents.services import open_incident
from app.organizations.services import organization_by_code

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


class Factory:
    def user(self, roles: dict[str, list[str]] | None = None, email: str | None = None, name: str = "テスト 太郎",
             password: str = PASSWORD) -> User:
        """roles: {"ageo": ["csirt"], ...}"""
        email = email or f"user{next(_counter)}@example.jp"
        user = User(email=email, name=name, password_hash=hash_password(password), available=True)
        db.session.add(user)
        db.session.flush()
        for code, role_list in (roles or {"ageo": ["csirt"]}).items():
            org = organization_by_code(code)
            for role in role_list:
                db.session.add(Membership(user_id=user.id, organization_id=org.id, role=role, active=True))
        db.session.commit()
        db.session.refresh(user)
        return user

    def token(self, user: User) -> str:
        token = create_api_token(user.email)
        db.session.commit()
        return token

    def headers(self, user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def incident(self, user: User, **fields):
        data = {
            "organization": "ageo", "title": "テストインシデント", "threat_category": "intentional",
            "detected_at": dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
        } | fields
        incident = open_incident(user, IncidentCreate.model_validate(data))
        db.session.commit()
        return incident


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token in page"
    return match.group(1)
