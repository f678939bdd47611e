"""The layers of the application, lowest first: a module may import only from its own layer or
the ones below it, and two domains of one layer (the packages listed together) never import each
other. Pages and commands (`views.py`, `*_views.py`, `cli.py`) are the top layer wherever they
live. Imports under `if TYPE_CHECKING:` (annotations only) do not count: they run nothing.
tests/test_layers.py holds the code to this table.

Read it as the order of knowledge: the core knows nothing of incidents; incidents know nothing of
the deadlines, escalation, records, intake and reviews that react to them (those learn of an
incident's changes through its events); the API, the pages and the commands know everything.
"""
from __future__ import annotations

LAYERS: tuple[tuple[str, ...], ...] = (
    ("app.config", "app.layers"),
    ("app.core",),
    ("app.audit",),
    ("app.organizations",),
    ("app.auth",),
    ("app.incidents",),
    ("app.notifications",),  # reaching people: who is on call, the outbox and its delivery
    ("app.deadlines", "app.escalation", "app.records", "app.intake"),
    ("app.risks",),  # the risk register: assessments and their inputs (near misses are reports of intake)
    # what reads or drives several domains of the row above: the quarter's figures, the roster
    # file (people, chains, rotas), what needs attention now, and the tick that runs each job
    ("app.reviews", "app.roster", "app.attention", "app.jobs"),
    ("app.models",),  # every model, for the migrations and the backup
    ("app.plan", "app.ops", "app.backup"),
    ("app.api", "app.web", "app"),  # the top: the API, the pages' frame, the factory (app/__init__.py)
)

TOP_LAYER_MODULES = ("views", "cli")  # app/<domain>/views.py, *_views.py and cli.py: pages and commands
