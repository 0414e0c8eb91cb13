"""The rate limiter's bucket in Redis: one hash per model connection, changed by a Lua script so
that reading, refilling and taking are one atomic step for every worker at once.

The key is `agentjobs:ratelimit:<conn_id>`, never anything derived from the API key. The clock
is the Redis server's (TIME), so workers on hosts whose clocks differ share one time line. The
script is agent/rate_limiter.py's `take` and `adjust`, written again in Lua; tests run both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentjobs.agent.errors import TransientAgentError
from agentjobs.agent.rate_limiter import REQUEST_BURST, Limits

if TYPE_CHECKING:
    import redis

KEY_PREFIX = "agentjobs:ratelimit:"
# An idle bucket refills to full within a minute; the key goes away after an idle hour.
KEY_TTL_S = 3600

# KEYS[1]: the bucket. ARGV: request rate (/s), request burst, token rate (/s), token capacity,
# tokens wanted (take) or tokens to add (adjust), mode ("take" | "adjust").
# Returns the wait in seconds as a string (Lua numbers become integers in replies).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rrate, rcap = tonumber(ARGV[1]), tonumber(ARGV[2])
local trate, tcap = tonumber(ARGV[3]), tonumber(ARGV[4])
local amount, mode = tonumber(ARGV[5]), ARGV[6]
local b = redis.call('HMGET', KEYS[1], 'requests', 'tokens', 'updated')
local requests, tokens, updated = tonumber(b[1]), tonumber(b[2]), tonumber(b[3])
if requests == nil then
  requests, tokens, updated = rcap, tcap, now
end
local elapsed = math.max(0, now - updated)
requests = math.min(rcap, requests + elapsed * rrate)
tokens = math.min(tcap, tokens + elapsed * trate)
updated = math.max(now, updated)
local wait = 0
if mode == 'take' then
  if rrate > 0 and requests < 1 then
    wait = (1 - requests) / rrate
  end
  local want = math.min(amount, tcap)
  if trate > 0 and tokens < want then
    wait = math.max(wait, (want - tokens) / trate)
  end
  if wait == 0 then
    if rrate > 0 then requests = requests - 1 end
    if trate > 0 then tokens = tokens - want end
  end
elseif trate > 0 then
  tokens = math.min(tcap, tokens + amount)
end
redis.call('HSET', KEYS[1], 'requests', tostring(requests), 'tokens', tostring(tokens),
  'updated', tostring(updated))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
return tostring(wait)
"""


def bucket_key(conn_id: str) -> str:
    return f"{KEY_PREFIX}{conn_id}"


class RedisBucketStore:
    """The bucket of one connection in Redis (`client` from `redis.Redis.from_url`)."""

    def __init__(self, client: redis.Redis, conn_id: str, key_prefix: str = KEY_PREFIX) -> None:
        self.client = client
        self.key = f"{key_prefix}{conn_id}"
        self._script: Any = client.register_script(_SCRIPT)

    def take(self, limits: Limits, tokens: float) -> float:
        return self._run(limits, tokens, "take")

    def adjust(self, limits: Limits, tokens: float) -> None:
        self._run(limits, tokens, "adjust")

    def _run(self, limits: Limits, amount: float, mode: str) -> float:
        args = [
            repr(limits.request_rate),
            repr(REQUEST_BURST),
            repr(limits.token_rate),
            repr(limits.token_capacity),
            repr(float(amount)),
            mode,
            KEY_TTL_S,
        ]
        import redis

        try:
            reply = self._script(keys=[self.key], args=args)
        except redis.RedisError as exc:
            # A Redis that is down is like an endpoint that is down: the task's retry may find it.
            raise TransientAgentError(f"the rate limiter's Redis store failed: {exc}") from exc
        return float(reply.decode() if isinstance(reply, bytes) else reply)


def redis_store(url: str, conn_id: str) -> RedisBucketStore:
    """A store on the Redis server at `url` (redis:// or rediss://)."""
    try:
        import redis
    except ImportError as exc:  # the [celery] extra installs it; the agent runtime does not need it
        raise RuntimeError(
            "rate_limit_store names a Redis URL but the `redis` package is not installed: "
            "pip install 'airflow-provider-agentjobs[celery]' (or redis), or set rate_limit_store "
            "to 'ledger'"
        ) from exc
    return RedisBucketStore(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5), conn_id)
