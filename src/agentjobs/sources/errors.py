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
