"""Exceptions of the sources. A source that cannot be read at all raises one of these;
a single repository or feed that is gone becomes a `SourceNote` instead, so one dead
input never hides the others."""

from __future__ import annotations

from datetime import datetime


class SourceError(Exception):
    """Base class of every error a source raises on purpose."""


class PermanentSourceError(SourceError):
    """The same request would be refused the same way (bad credentials, no access): the job's
    retry policy fails the task at once instead of paging again after the retry delay."""


class BusinessDbError(SourceError):
    """The business database's connection is missing, is not a SQL connection, or cannot be reached."""


class BusinessDbUnreachable(BusinessDbError, ConnectionError):
    """The business database did not answer (refused, timed out, no such host, dropped): the
    server may be down or restarting, so the job's retry policy retries it (a ConnectionError)."""


class BusinessDbRefused(BusinessDbError, PermanentSourceError):
    """The business database answered and refused the connection's login, password or database:
    only a person can fix the connection, so the task fails at once."""


class FeedError(SourceError):
    """One feed could not be read (too large, too slow, unsupported location)."""


class GitHubError(SourceError):
    """GitHub answered something this fetcher cannot use (bad token, unexpected status, too many pages)."""


class GitHubAccessDenied(GitHubError, PermanentSourceError):
    """401 or 403 that is not a rate limit: the token is wrong, expired or revoked, or it may
    not read the repository. Only a person can fix that."""


class GitHubUnavailable(GitHubError):
    """GitHub kept failing (5xx, timeouts, refused connections) after the retries."""


class GitHubRateLimited(GitHubError):
    """The API rate limit is used up and resets later than this run may wait."""

    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at
