"""The case register on SQLAlchemy: mapping, migrations, engine, repositories and the unit of work."""
