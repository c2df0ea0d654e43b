"""The store in Redis: idempotency claims and dead letters."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, replace
from datetime import datetime

import redis

from {{ cookiecutter.project_slug }}.environment import environment
from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter
from {{ cookiecutter.project_slug }}.tasking.retry import PermanentError, TransientError
from {{ cookiecutter.project_slug }}.tasking.stores import RUN_COUNT_TTL_S

# A claim is a lease: its holder renews it while the side effect runs, so it
# never expires under a running task, and a holder that dies (killed, or
# cancelled after a lost broker connection) frees the key within this time.
CLAIM_LEASE_MS = 30_000
# The done marker outlives every redelivery window (retries, visibility timeout).
DONE_TTL_S = 7 * 24 * 60 * 60
# How long a run whose side effect is applied keeps trying to record it as done
# while Redis refuses writes (full: OutOfMemoryError) or cannot be reached.
RECORD_DONE_FOR_S = 30.0
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# The claim becomes the done marker. RENAME and PEXPIRE allocate nothing, so
# Redis runs them even when it is full and refuses SET (OutOfMemoryError).
_CLAIM_TO_DONE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('rename', KEYS[1], KEYS[2])
return redis.call('pexpire', KEYS[2], ARGV[2])
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class ClaimBusy(TransientError):
    """Another worker holds the claim right now: retry once its lease may have run out."""


class EffectNotRecorded(PermanentError):
    """The side effect ran, but Redis never took the record of it: a new run would repeat it."""


class _Lease:
    """Renews a claim three times per lease period until stopped."""

    def __init__(self, client: redis.Redis, key: str, token: str) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew, args=(client, key, token), daemon=True)
        self._thread.start()

    def _renew(self, client: redis.Redis, key: str, token: str) -> None:
        while not self._stopped.wait(CLAIM_LEASE_MS / 3000):
            # Redis unreachable: tried again at the next renewal.
            with suppress(redis.RedisError):
                client.eval(_RENEW, 1, key, token, CLAIM_LEASE_MS)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


class RedisStore:
    def __init__(self, client: redis.Redis, prefix: str = "{{ cookiecutter.project_slug }}") -> None:
        self.redis = client
        self.prefix = prefix

    @classmethod
    def from_environment(cls) -> RedisStore:
        env = environment()
        prefix = f"{env.celery_queue_prefix}{{ cookiecutter.project_slug }}"
        store = env.endpoint("redis_url")  # rediss:// is verified like the broker (tls.py)
        client = redis.Redis.from_url(store.url, **(store.redis_options() or {}))
        return cls(client, prefix=prefix)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        done, claim = self._key("done", key), self._key("claim", key)
        token = secrets.token_hex(16)
        if not self.redis.set(claim, token, nx=True, px=CLAIM_LEASE_MS):
            remaining_ms = max(self.redis.pttl(claim), 0)
            raise ClaimBusy(
                f"idempotency key {key!r} is being applied by another worker",
                retry_after=remaining_ms / 1000 + 1,
            )
        # Checked under the claim: a run that finished just now has set it.
        if self.redis.exists(done):
            self.redis.eval(_RELEASE, 1, claim, token)
            yield False
            return
        lease = _Lease(self.redis, claim, token)
        try:
            yield True
        except BaseException:
            lease.stop()
            self.redis.eval(_RELEASE, 1, claim, token)
            raise
        try:
            self._record_done(key, done, claim, token)
        finally:
            lease.stop()

    def _record_done(self, key: str, done: str, claim: str, token: str) -> None:
        """Record the applied effect of ``key``, trying for RECORD_DONE_FOR_S.

        Invariant: an effect that ran is recorded as done, or its task becomes a
        dead letter that says it ran; it never fails in a way that is retried
        (a retry would apply it twice). A full Redis still takes the record (the
        claim is renamed); an unreachable one is tried again meanwhile, while
        the lease keeps the claim, so no other run starts the effect.
        """
        deadline = time.monotonic() + RECORD_DONE_FOR_S
        wait = 0.1
        while True:
            try:
                if not self.redis.eval(_CLAIM_TO_DONE, 2, claim, done, token, DONE_TTL_S * 1000):
                    # The claim was lost (Redis out of reach longer than its
                    # lease): the effect ran here all the same.
                    self.redis.set(done, "1", ex=DONE_TTL_S)
                return
            except redis.RedisError as error:
                if time.monotonic() + wait > deadline:
                    raise EffectNotRecorded(
                        f"the side effect of {key!r} was applied, but Redis did not record it "
                        f"as done within {RECORD_DONE_FOR_S:.0f} s ({error!r}): check the "
                        "effect before you requeue this task, which would apply it again"
                    ) from error
                time.sleep(wait)
                wait = min(wait * 2, 2.0)

    def record_dead_letter(self, letter: DeadLetter) -> DeadLetter:
        letter = replace(letter, id=letter.id or secrets.token_hex(8))
        data = asdict(letter) | {"failed_at": letter.failed_at.isoformat()}
        pipe = self.redis.pipeline()
        pipe.hset(self._key("deadletters"), letter.id, json.dumps(data))
        pipe.zadd(self._key("deadletters", "by-time"), {letter.id: letter.failed_at.timestamp()})
        pipe.execute()
        return letter

    def _load(self, raw: bytes | None) -> DeadLetter | None:
        if raw is None:
            return None
        data = json.loads(raw)
        return DeadLetter(**data | {"failed_at": datetime.fromisoformat(data["failed_at"])})

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        ids = self.redis.zrevrange(self._key("deadletters", "by-time"), 0, limit - 1)
        if not ids:
            return []
        raws = self.redis.hmget(self._key("deadletters"), ids)
        return [letter for raw in raws if (letter := self._load(raw))]

    def dead_letter(self, letter_id: str) -> DeadLetter | None:
        return self._load(self.redis.hget(self._key("deadletters"), letter_id))

    def remove_dead_letter(self, letter_id: str) -> bool:
        pipe = self.redis.pipeline()
        pipe.hdel(self._key("deadletters"), letter_id)
        pipe.zrem(self._key("deadletters", "by-time"), letter_id)
        removed, _ = pipe.execute()
        return bool(removed)

    def purge_dead_letters(self) -> int:
        pipe = self.redis.pipeline()
        pipe.hlen(self._key("deadletters"))
        pipe.delete(self._key("deadletters"), self._key("deadletters", "by-time"))
        count, _ = pipe.execute()
        return int(count)

    def count_run_without_outcome(self, key: str) -> int:
        pipe = self.redis.pipeline()
        pipe.incr(self._key("runs", key))
        pipe.expire(self._key("runs", key), RUN_COUNT_TTL_S)
        count, _ = pipe.execute()
        return int(count)
