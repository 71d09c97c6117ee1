"""The pure domain of a Local Child Safeguarding Practice Review.

Every module here except ``models.register`` (the SQLAlchemy mapping) and
``models.migrations`` is pure: no Prefect, SQLAlchemy, Apprise or Jinja2, and no
reading of the real clock. Time is always an argument. ``tests/unit/test_purity.py``
enforces it. Import submodules explicitly; this package imports nothing.
"""
