from tests.business.fixtures import pg_schema, sample_db, sqlite_engine  # noqa: F401
