"""Entry point for `flask --app wsgi` and WSGI servers."""
from app import create_app

app = create_app()
