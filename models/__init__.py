"""The pure domain of a Local Child Safeguarding Practice Review.

No Prefect, SQLAlchemy, Apprise or Jinja2, and no reading of the real clock: time is always
an argument. ``tests/unit/test_layers.py`` enforces it. Import submodules explicitly; this
package imports nothing.
"""
