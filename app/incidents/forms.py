"""Incident forms. They carry CSRF and render fields; the rules are checked by the services."""
from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.core.i18n import category_label
from app.core.playbooks import playbooks
from app.core.timeutil import display_zone
from app.incidents.models import HELD_IN_LABELS, IMPACT_LABELS, SEVERITY_LABELS, SOURCE_LABELS
from app.organizations.profiles import Profile


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):  # the service checks the codes against the profile
        pass


class LenientSelectField(SelectField):
    def pre_validate(self, form):
        pass


class IncidentForm(FlaskForm):
    title = StringField(_l("件名"))
    description = TextAreaField(_l("内容（Markdown）"))
    threat_category = LenientSelectField(_l("脅威区分"))
    subcategory = LenientSelectField(_l("小区分"))
    detected_at = DateTimeLocalField(_l("検知日時"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    recognized_at = DateTimeLocalField(_l("報告対象と認識した日時"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    organ = LenientSelectField(_l("機関"))
    source = LenientSelectField(_l("報告元"), choices=[(k.value, v) for k, v in SOURCE_LABELS.items()])
    network_segments = MultiCheckboxField(_l("ネットワーク"))
    impacts = MultiCheckboxField(_l("被害"), choices=[(k.value, v) for k, v in IMPACT_LABELS.items()])
    pd_involved = BooleanField(_l("個人情報を含む"))
    pd_persons = IntegerField(_l("本人の数"), validators=[Optional()], default=0)
    pd_sensitive = BooleanField(_l("要配慮個人情報"))
    pd_my_number = BooleanField(_l("特定個人情報（マイナンバー）"))
    pd_financial_damage = BooleanField(_l("財産的被害のおそれ"))
    pd_malicious = BooleanField(_l("不正の目的のおそれ"))
    pd_ordinance_sensitive = BooleanField(_l("条例要配慮個人情報"))
    pd_held_in = MultiCheckboxField(_l("情報を管理していたシステム（番号法）"),
                                    choices=[(k.value, v) for k, v in HELD_IN_LABELS.items()])
    pd_public_exposure = BooleanField(_l("電磁的方法により不特定多数の者に閲覧されるおそれ"))
    pd_encrypted = BooleanField(_l("高度な暗号化等の措置を講じた情報"))
    reported_at = DateTimeLocalField(_l("報告を受けた日時"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    acknowledged_at = DateTimeLocalField(_l("受領（確認）した日時"), format="%Y-%m-%dT%H:%M", validators=[Optional()])


class IncidentEditForm(IncidentForm):
    version = HiddenField()
    severity = LenientSelectField(_l("重大度の手動設定"))
    severity_reason = TextAreaField(_l("手動設定の理由"))


def fill_choices(form: IncidentForm, profile: Profile) -> None:
    form.threat_category.choices = [("", _l("選択してください"))] + [(c.code, category_label(c)) for c in profile.threat_categories]
    form.subcategory.choices = [("", _l("（なし）"))] + [
        (s.code, f"{category_label(c)} — {s.label}") for c in profile.threat_categories for s in c.subcategories
    ]
    form.network_segments.choices = [(s.code, s.label) for s in profile.network_segments or ()]
    rule_sets = playbooks().reporting_rules
    form.organ.choices = [("", f"{profile.name}（{rule_sets[profile.reporting.rules].name}）")] + [
        (o.code, f"{o.label}（{rule_sets[o.rules].name}）") for o in profile.reporting.organs]
    if isinstance(form, IncidentEditForm):
        form.severity.choices = [("", _l("自動（規則による）"))] + [(k.value, v) for k, v in SEVERITY_LABELS.items()]


def _aware(value) -> dt.datetime | None:
    return value.replace(tzinfo=display_zone()) if isinstance(value, dt.datetime) else None


def form_to_input(form: IncidentForm, profile: Profile, asset_values: dict[str, str]) -> dict:
    """The same shape the API accepts, so one schema and one service check both. On the new form
    the fields that need a right of their own (recognition, encryption, the paper times) are sent
    only when filled in, as the API's caller would."""
    detected = form.detected_at.data
    editing = isinstance(form, IncidentEditForm)
    data = {
        "title": form.title.data or "",
        "description": form.description.data or "",
        "threat_category": form.threat_category.data or "",
        "subcategory": form.subcategory.data or None,
        "detected_at": detected.replace(tzinfo=display_zone()) if isinstance(detected, dt.datetime) else None,
        "source": form.source.data or "internal",
        "network_segments": list(form.network_segments.data or []),
        "impacts": list(form.impacts.data or []),
        "asset_classes": {k: v for k, v in asset_values.items() if v},
        "personal_data": {
            "involved": form.pd_involved.data, "persons": form.pd_persons.data or 0,
            "sensitive": form.pd_sensitive.data, "my_number": form.pd_my_number.data,
            "financial_damage": form.pd_financial_damage.data, "malicious": form.pd_malicious.data,
            "ordinance_sensitive": form.pd_ordinance_sensitive.data,
            "held_in": sorted(form.pd_held_in.data or []), "public_exposure": form.pd_public_exposure.data,
        },
    }
    if editing or form.pd_encrypted.data:
        data["personal_data"]["encrypted"] = form.pd_encrypted.data
    if editing or form.recognized_at.data:
        data["recognized_at"] = _aware(form.recognized_at.data)
    if profile.reporting.organs:
        data["organ"] = form.organ.data or None
    if not editing:  # paper times are given once, when the incident is entered
        for name in ("reported_at", "acknowledged_at"):
            value = getattr(form, name).data
            if isinstance(value, dt.datetime):
                data[name] = value.replace(tzinfo=display_zone())
    return data
