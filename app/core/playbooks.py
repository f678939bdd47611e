"""What playbooks/ holds, loaded and checked once at start-up (create_app), and the jobs the ticker
runs besides escalation: one typed object per app, reached through `playbooks()`.

The types it holds belong to the packages above core; they are imported here for annotations only
(TYPE_CHECKING), so core still imports no domain when it runs.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from flask import Flask, current_app

if TYPE_CHECKING:
    from app.deadlines.rules import RuleSet
    from app.escalation.policy import EscalationFile
    from app.incidents.playbook import Playbook, StageDef
    from app.incidents.severity import SeverityRules
    from app.organizations.profiles import Profile
    from app.risks.rules import RiskRules

_EXTENSION = "playbooks"


class TickJob(NamedTuple):
    run: Callable[[], Any]
    period_setting: str  # the config key of its period in seconds


@dataclass(frozen=True)
class Playbooks:
    profiles: dict[str, Profile]  # organizations/<code>.yaml, parents' sections inherited
    stages: tuple[StageDef, ...]  # stages.yaml
    checklists: dict[str, Playbook]  # checklists/<name>.yaml, `extends` resolved
    severity_rules: SeverityRules  # severity.yaml
    escalation: EscalationFile  # escalation.yaml: the default chains and office hours
    reporting_rules: dict[str, RuleSet]  # reporting/<rules>.yaml
    risk: RiskRules  # risk.yaml: the register's scales, finding ratings and disagreement rules
    tick_jobs: dict[str, TickJob] = field(default_factory=dict)  # name → job, added by the packages' register_cli

    def install(self, app: Flask) -> None:
        app.extensions[_EXTENSION] = self

    def add_tick_job(self, name: str, run: Callable[[], Any], period_setting: str) -> None:
        self.tick_jobs[name] = TickJob(run, period_setting)


def playbooks(app: Flask | None = None) -> Playbooks:
    """The current app's (or that app's) playbooks."""
    return (app or current_app).extensions[_EXTENSION]
