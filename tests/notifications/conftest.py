"""Fixtures for the tests of src/agentjobs/notifications/: the SMTP fake of tests/delivery/, re-exported."""

from tests.delivery.conftest import smtp_server  # noqa: F401
