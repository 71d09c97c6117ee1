"""Adapters: the concrete doors to the world the use cases reach through ``services/ports.py``.

``register/`` the case register and outbox on SQLAlchemy (SQLite or PostgreSQL), with its
migrations; ``prefect_api.py`` the review runs on the Prefect server (read and resumed over HTTP,
the rest through Prefect's client in ``prefect_runs.py``; both handle trouble alike in
``prefect_errors.py``); ``processes.py`` this
machine's processes; ``failpoints.py`` the kill points the end-to-end tests arm. Messages go
out through ``notifications/`` (Apprise, Jinja2, a local SMTP server), the adapter folder the
users named. Adapters import the domain and nothing above it.
"""
