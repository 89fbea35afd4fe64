"""WSGI entry point for gunicorn: ``shipyard_app.wsgi:app``."""

from . import create_app

app = create_app()
