"""The background puller (FED-16): each active member's feed, page after page, with cursors.

One task loops: it publishes local changes, pulls the steward first (registry changes decide
who else is a member), then the other members a few at a time (each source by one task at a
time, its pages in order), then refreshes old copies of DID documents and status lists. It
sleeps ``poll_interval`` seconds, or less when a notice or a local change wakes it.

A failed pull (peer down, timeout, 5xx, a refused request) is retried after an exponential
backoff with jitter (``backoff_base`` doubled per failure, at most ``backoff_cap``); a notice from
that peer ends the wait. A page that fails verification is refused as a whole, logged with its
reason, and nothing of it is stored; the cursor only moves when a page is applied, so a restart
resumes where the node stopped. A fork (the source signed two histories) stops pulling that
source for good: the evidence is kept in ``federation_peers.blocked``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING, Any

from protocol.errors import ProtocolError
from protocol.federation import ForkError, Member

from ..problems import Problem
from .wire import PeerError

if TYPE_CHECKING:
    from .service import FederationService

__all__ = ["Syncer"]

log = logging.getLogger("passeport.node.federation")

#: Pages pulled from one source in one go before other work gets a turn.
MAX_PAGES_PER_PULL = 1000

_random = secrets.SystemRandom()
#: Fetcher problems that mean "try again later".
_FETCH_FAILURES = frozenset({"upstream-error", "fetch-refused"})


class Syncer:
    """Pulls the network's feeds in the background (see the module docstring)."""

    def __init__(self, service: FederationService) -> None:
        self.service = service
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        #: loop time before which a source is not pulled again (after failures)
        self._not_before: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._urgent: set[str] = set()
        self._round_lock = asyncio.Lock()
        self._stopping = False
        self.rounds = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping = True
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._stopping = False

    def stopping(self) -> bool:
        """Whether :meth:`stop` was called (the loop ends after its current step)."""
        return self._stopping

    def wake(self, source: str | None = None) -> None:
        """Pull soon: ``source`` right away (its backoff is cleared), or every due source."""
        if source is not None:
            self._urgent.add(source)
            self._not_before.pop(source, None)
        self._wake.set()

    async def _run(self) -> None:
        interval = self.service.settings.poll_interval
        # The flag also ends the loop if a cancellation is lost on the way (an asyncio wait
        # that completes at the moment it is cancelled).
        while not self.stopping():
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("federation: a pull round failed")
            if self.stopping():
                break
            try:
                async with asyncio.timeout(self._sleep(interval)):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    def _sleep(self, interval: float) -> float:
        """Sleep until the next poll, or until the first backoff ends if sooner."""
        loop = asyncio.get_running_loop()
        waits = [t - loop.time() for t in self._not_before.values()]
        soonest = min([interval, *[w for w in waits if w > 0]], default=interval)
        return max(0.01, soonest)

    # -- one round ----------------------------------------------------------------------------

    async def round(self) -> dict[str, int]:
        """Publish local changes, pull every due source, refresh old copies. Returns new events
        by source."""
        async with self._round_lock:
            service = self.service
            service.publish_local()
            service.store.prune_nonces(service.now())
            registry = service.registry()
            if registry is None:
                return {}
            now = service.now()
            sources = [
                m
                for m in registry.active_members(now)
                if m.did != service.did and ("member" in m.roles or "steward" in m.roles)
            ]
            steward = [m for m in sources if m.did == registry.steward]
            others = [m for m in sources if m.did != registry.steward]
            results: dict[str, int] = {}
            for member in steward:
                results[member.did] = await self.pull(member)
            registry = service.registry()  # the steward's feed may have changed it
            if registry is not None and steward:
                now = service.now()
                others = [
                    m
                    for m in registry.active_members(now)
                    if m.did not in (service.did, registry.steward)
                    and ("member" in m.roles or "steward" in m.roles)
                ]
            semaphore = asyncio.Semaphore(max(1, service.settings.concurrency))

            async def pull(member: Member) -> None:
                async with semaphore:
                    results[member.did] = await self.pull(member)

            await asyncio.gather(*(pull(m) for m in others))
            try:
                await service.refresh_copies()
            except (PeerError, ProtocolError, Problem) as exc:
                log.info("federation: refreshing copies failed: %s", exc)
            self.rounds += 1
            return results

    # -- one source ---------------------------------------------------------------------------

    def _due(self, did: str) -> bool:
        if did in self._urgent:
            return True
        not_before = self._not_before.get(did)
        return not_before is None or asyncio.get_running_loop().time() >= not_before

    def _backoff(self, did: str) -> float:
        failures = self._failures.get(did, 0) + 1
        self._failures[did] = failures
        settings = self.service.settings
        delay = float(min(settings.backoff_cap, settings.backoff_base * 2 ** (failures - 1)))
        delay *= _random.uniform(0.5, 1.0)
        self._not_before[did] = asyncio.get_running_loop().time() + delay
        return delay

    async def pull(self, member: Member, *, force: bool = False) -> int:
        """Pull ``member``'s feed to its head (or until a failure); returns new events."""
        did = member.did
        if not force and not self._due(did):
            return 0
        self._urgent.discard(did)
        service = self.service
        store = service.store
        peer = store.peer(did)
        if peer is not None and peer.get("blocked"):
            return 0
        lock = self._locks.setdefault(did, asyncio.Lock())
        new = 0
        async with lock:
            store.note_attempt(did, service.now())
            for _ in range(MAX_PAGES_PER_PULL):
                cursor = store.cursor(did)
                try:
                    page = await service.fetch_page(member, cursor)
                except PeerError as exc:
                    failures = store.note_failure(did, exc.message)
                    delay = self._backoff(did)
                    log.info(
                        "federation: pulling %s failed (%d in a row, retry in %.1f s): %s",
                        did,
                        failures,
                        delay,
                        exc.message,
                    )
                    return new
                except ProtocolError as exc:
                    store.note_failure(did, exc.message)
                    self._backoff(did)
                    service.reject(channel="feed", peer=did, error=exc)
                    return new
                try:
                    result = await service.apply_page(member, page, cursor)
                except ForkError as exc:
                    store.block_peer(
                        did, f"seq {exc.seq}: seen {exc.seen}, received {exc.received}"
                    )
                    service.reject(channel="feed", peer=did, error=exc)
                    log.error("federation: %s signed two histories; no longer pulled", did)
                    return new
                except Problem as problem:
                    # The member's DID document could not be had (the fetcher failed): a
                    # failure to retry, not a refused message.
                    store.note_failure(did, problem.detail)
                    self._backoff(did)
                    if problem.status < 500 and problem.kind not in _FETCH_FAILURES:
                        service.reject(channel="feed", peer=did, error=problem)
                    return new
                except ProtocolError as exc:
                    store.note_failure(did, exc.message)
                    self._backoff(did)
                    service.reject(channel="feed", peer=did, error=exc)
                    return new
                except PeerError as exc:
                    store.note_failure(did, exc.message)
                    self._backoff(did)
                    return new
                new += result.new
                if not result.more:
                    break
                if result.new == 0 and result.cursor == cursor:
                    # A page that claims more but brings nothing new: stop here this time.
                    break
            store.note_success(did, service.now())
            self._failures.pop(did, None)
            self._not_before.pop(did, None)
        return new

    async def pull_all(self) -> dict[str, int]:
        """One round now (waits for a running round to end first)."""
        for did in list(self._not_before):
            self._not_before.pop(did, None)
        return await self.round()

    def state(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        return {
            "rounds": self.rounds,
            "backoff": {
                did: round(max(0.0, t - loop.time()), 3) for did, t in self._not_before.items()
            },
        }
