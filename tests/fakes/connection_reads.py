"""Count every read of an Airflow connection, whoever asks for it (the hook, the operator, a template)."""

from __future__ import annotations

from collections import Counter

import pytest


def count_connection_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Wrap `Connection.get` so each call still reads the real connection and is counted by conn_id."""
    from airflow.sdk.definitions.connection import Connection

    real_get = Connection.get.__func__
    read: Counter[str] = Counter()

    def counting_get(cls, conn_id: str, *args, **kwargs):
        read[conn_id] += 1
        return real_get(cls, conn_id, *args, **kwargs)

    monkeypatch.setattr(Connection, "get", classmethod(counting_get))
    return read
