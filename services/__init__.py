"""The service layer: one function per use case, called alike by the CLI and the Prefect tasks.

Each use case takes the :class:`services.app.App` (the wired adapters and the partnership's
configuration), opens a unit of work on the case register, asks the pure domain
(``models/``) to judge, and records the outcome. Nothing here imports Prefect or SQLAlchemy:
the adapters are reached only through the ports in :mod:`services.ports`, so the tests run
every use case in memory against the fakes in ``tests/fakes.py``.
"""
