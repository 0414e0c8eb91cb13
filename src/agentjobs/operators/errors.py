"""Failures of a job's plain tasks that a retry would only repeat.

The job's retry policy (operators/retry.py) fails these at once, like the agent's own
permanent errors, so on-call is paged now instead of after the retry delay.
"""

from __future__ import annotations


class PermanentTaskError(Exception):
    """The same input would fail the same way: end the task without using its retries."""


class ArtifactChanged(PermanentTaskError):
    """The artifact on disk is not the one the validate task checked."""
