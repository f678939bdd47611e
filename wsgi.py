"""Entry point for `flask --app wsgi` and WSGI servers."""
import sys

from app import create_app
from app.deadlines.rules import RulesError
from app.incidents.playbook import PlaybookError
from app.organizations.profiles import ProfileError

try:
    app = create_app()
except (ProfileError, PlaybookError, RulesError, ValueError) as exc:  # a bad playbook file: say which, and stop
    sys.exit(f"Error: playbooks are invalid: {exc}")
