"""Telling the team: a started session with write access POSTs what it sees happen
(:mod:`backends.core.notices`) to the webhooks of molt.toml's ``[notify]`` section.

**Once across operators.** Several Molts may watch one fleet. Before telling a happening,
a Molt claims it where the fleet's truth lives, with the backend's own locks: one of
:data:`CLAIM_SLOTS` named locks ``notify:N`` (never the fleet lock nor the rollout lock, so
a claim never stands in an operator's way), its lease naming the happening's key. A Molt
that finds the key claimed leaves it; the winner sends, then holds the claim for
:data:`HOLD` seconds, so every Molt that sees the happening later — up to :data:`FRESH`
seconds after it — finds it claimed. What a session sees at its first look is old news,
and a happening older than :data:`FRESH` is never told: a Molt started late, or one whose
reads failed for a while, does not tell it again. Slots are few so the locks a claim
leaves behind stay bounded on every backend (one tag each on an ALB listener).

**Never in the way.** Observing only queues (bounded); claims and deliveries run in
background tasks, each attempt bounded by the webhook's ``timeout``, :data:`ATTEMPTS`
tries with :data:`PAUSES` between them. A delivery that fails is the session's problem
``notify: webhook https://host failed: …`` (the URL's path and query, which often hold a
token, are never shown), until a delivery to it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from backends.config.fleet_config import FleetConfig
from backends.config.notify_settings import NotifySettings, Webhook
from backends.contract import Backend
from backends.core.clock import utcnow
from backends.core.errors import BackendError
from backends.core.journal import JournalRecord
from backends.core.journal_view import JournalView
from backends.core.locking import Lease, Locked
from backends.core.model import FleetSnapshot
from backends.core.notices import (
    Notice,
    from_interrupted,
    from_lock,
    from_records,
    from_snapshot,
    payload,
)
from backends.engine.feed import Feed
from backends.engine.problems import Problems
from backends.engine.updates import AttentionChanged, describe

CLAIM_SLOTS = 8  # the notify:N locks a fleet may hold at once
FRESH = 300.0  # seconds: a happening first seen later than this after it is not told
HOLD = FRESH + 30.0  # seconds the winner keeps its claim
WARMUP = 30.0  # seconds: what traffic shows this early in a session is old news
ATTEMPTS = 3
PAUSES = (1.0, 4.0)  # seconds between attempts
QUEUE = 50  # notices waiting, per webhook and to be claimed
KNOWN = 2000  # keys remembered (seen or told) by this process
RETRY_CLAIM = 10.0  # seconds between tries while every claim slot is held
SETTLE = 10.0  # seconds a command that ends waits for its news to go out


class ClaimsHeld(BackendError):
    """Every notify:N lock of the fleet is held (a burst of events): try again soon."""


class Delivery:
    """POSTs to webhooks (one ``aiohttp`` client, made on first use)."""

    def __init__(self) -> None:
        self._client: Any = None

    async def post(self, hook: Webhook, notice: Notice, *, attempts: int = ATTEMPTS) -> str:
        """Send ``notice`` to ``hook``, trying up to ``attempts`` times; "" once it is
        taken (a 2xx answer), else why the last try failed."""
        import aiohttp  # only a session that tells anything pays for it

        if self._client is None:
            self._client = aiohttp.ClientSession()
        body = payload(notice, hook.format, utcnow())
        why = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(PAUSES[min(attempt, len(PAUSES)) - 1])
            try:
                timeout = aiohttp.ClientTimeout(total=hook.timeout)
                async with self._client.post(
                    hook.url, json=body, timeout=timeout, allow_redirects=False
                ) as answer:
                    if 200 <= answer.status < 300:
                        return ""
                    why = f"HTTP {answer.status}"
            except TimeoutError:
                why = f"no answer within {hook.timeout:g} s"
            except (aiohttp.ClientError, OSError) as error:
                why = _reason(error)
        return f"{why} ({attempts} {'try' if attempts == 1 else 'tries'})"

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _reason(error: BaseException) -> str:
    """Why a POST failed, in one line that never names the URL (it may hold a token)."""
    import aiohttp

    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect ({error.os_error.strerror or 'refused'})"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status}"
    name = type(error).__name__
    return {"ServerDisconnectedError": "the server closed the connection"}.get(name, name)


class Notifier:
    """Tells one fleet's news, as one session sees it (see the module's docstring)."""

    def __init__(
        self,
        settings: NotifySettings,
        backend: Backend,
        fleet: str,
        problems: Problems,
        *,
        operator: Callable[[], str] = lambda: "molt",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.fleet = fleet
        self.problems = problems
        self.operator = operator
        self.clock = clock
        #: called with each failed delivery's line too (``molt watch`` prints it)
        self.report: Callable[[str], None] = lambda line: None
        self.sent = 0  # notices this process claimed and handed to the webhooks
        self._since = clock()
        self._known: OrderedDict[str, None] = OrderedDict()
        #: the first look is in (what it showed is old news, never told)
        self.looked_once = False
        self._last_look: datetime | None = None
        self._claims: asyncio.Queue[Notice] = asyncio.Queue(QUEUE)
        self._retry_until: dict[str, float] = {}  # claims tried again while every slot is held
        self._queues = {i: asyncio.Queue[Notice](QUEUE) for i in range(len(settings.webhook))}
        self._delivery = Delivery()
        self._tasks: set[asyncio.Task[None]] = set()

    # observing ---------------------------------------------------------------------------
    def start(self) -> None:
        """Begin claiming and delivering, in the background."""
        self._spawn(self._claiming())
        for index in self._queues:
            self._spawn(self._delivering(index))

    def looked(self, seen: AttentionChanged, records: Iterable[JournalRecord]) -> None:
        """A look at the journal and the locks: rollouts ended, taints, interrupted
        actions, the fleet lock held too long."""
        now = self.clock()
        notices = [
            *from_records(self.fleet, records),
            *from_interrupted(self.fleet, seen.interrupted),
            *from_lock(self.fleet, seen.lock, self.settings.lock_held_minutes, now),
        ]
        # a look after a long blind spot (reads failing) is a first look again: what it
        # shows was there while this Molt could not see, and may have been told already
        blind = self._last_look is not None and (now - self._last_look).total_seconds() > FRESH
        self._consider(notices, old=not self.looked_once or blind)
        self.looked_once = True
        self._last_look = now

    def took(self, snapshot: FleetSnapshot) -> None:
        """A snapshot: generations doing worse than their baseline."""
        warm = (self.clock() - self._since).total_seconds() >= WARMUP
        self._consider(from_snapshot(snapshot), old=not warm)

    def _consider(self, notices: list[Notice], *, old: bool) -> None:
        now = self.clock()
        for notice in notices:
            if notice.key in self._known:
                continue
            self._remember(notice.key)
            if old and (notice.at is None or notice.at < self._since):
                continue  # the first look's, from before this Molt began watching
            if not self.settings.wanting(notice.event):
                continue
            if notice.at is not None and (
                (now - notice.at).total_seconds() > FRESH or notice.at < self._since
            ):
                continue  # told already, if it was going to be: too late to tell again
            try:
                self._claims.put_nowait(notice)
            except asyncio.QueueFull:
                self._failed("notify", f"notify: too many events at once; {notice.key} not told")

    def _remember(self, key: str) -> None:
        self._known[key] = None
        while len(self._known) > KNOWN:
            self._known.popitem(last=False)

    # claiming ----------------------------------------------------------------------------
    async def _claiming(self) -> None:
        while True:
            notice = await self._claims.get()
            try:
                await self._claimed(notice)
            finally:
                self._claims.task_done()

    async def _claimed(self, notice: Notice) -> None:
        try:
            lease = await self.claim(notice)
        except ClaimsHeld as error:
            self._again_later(notice, error)
            return
        except Exception as error:  # shown; the claimer goes on with the next event
            _, why = describe(error)
            self._failed("notify claim", f"notify: cannot claim {notice.key}: {why}")
            return
        self._retry_until.pop(notice.key, None)
        self.problems.clear("notify claim")
        self.problems.clear("notify")
        if lease is not None:  # else another Molt tells it
            self.sent += 1
            self._spawn(self._hold(lease))
            for index, hook in enumerate(self.settings.webhook):
                if notice.event in hook.events:
                    try:
                        self._queues[index].put_nowait(notice)
                    except asyncio.QueueFull:
                        self._failed(
                            f"notify {index}", f"notify: webhook {hook.shown}: backlog full"
                        )

    async def claim(self, notice: Notice) -> Lease | None:
        """Claim ``notice`` for this Molt: the lease, or None when another Molt has."""
        names = [f"notify:{i}" for i in range(CLAIM_SLOTS)]
        first = int(hashlib.sha256(notice.key.encode()).hexdigest()[:8], 16) % CLAIM_SLOTS
        names = names[first:] + names[:first]  # every Molt tries the same slot first
        holders = await self.backend.lock_holders(names)
        if any(h is not None and h.record == notice.key for h in holders.values()):
            return None
        for name in names:
            if holders[name] is not None:
                continue
            lease = Lease.new(
                self.operator(), f"notify {notice.event}", notice.key, ttl=HOLD + 30, lock=name
            )
            try:
                won = await self.backend.acquire(lease)
            except Locked as error:
                if error.holder is not None and error.holder.record == notice.key:
                    return None
                continue
            return await self._alone(won, names)
        raise ClaimsHeld(f"all {CLAIM_SLOTS} notify claims of fleet {self.fleet} are held")

    async def _alone(self, won: Lease, names: list[str]) -> Lease | None:
        """``won``, unless another Molt holds the same notice on a slot before it in the
        notice's order (it read the slots at another moment): then that one tells it and
        this claim is given back. Narrows, does not close, the window (docs/notify.md)."""
        holders = await self.backend.lock_holders(names)
        for name in names[: names.index(won.lock)]:
            holder = holders.get(name)
            if holder is not None and holder.record == won.record:
                with contextlib.suppress(BackendError, OSError):
                    await self.backend.release(won)
                return None
        return won

    def _again_later(self, notice: Notice, error: ClaimsHeld) -> None:
        """Every slot held: try again every :data:`RETRY_CLAIM` seconds while the event
        is fresh (a slot frees within :data:`HOLD` seconds)."""
        now = asyncio.get_running_loop().time()
        until = self._retry_until.setdefault(notice.key, now + FRESH)
        if now >= until or len(self._retry_until) > QUEUE:
            self._retry_until.pop(notice.key, None)
            self._failed("notify claim", f"notify: {notice.key} not told: {error.message}")
            return

        async def later() -> None:
            await asyncio.sleep(RETRY_CLAIM)
            with contextlib.suppress(asyncio.QueueFull):
                self._claims.put_nowait(notice)

        self._spawn(later())

    async def _hold(self, lease: Lease) -> None:
        # cancelled when this Molt stops: the claim is then left to its TTL, never given
        # back early, so a Molt that sees the same news a moment later does not tell it
        # again (where the backend ends a lease with its holder's connection — local,
        # SSH — it ends anyway: docs/notify.md)
        await asyncio.sleep(HOLD)
        with contextlib.suppress(BackendError, OSError):
            await asyncio.shield(self.backend.release(lease))

    # delivering --------------------------------------------------------------------------
    async def _delivering(self, index: int) -> None:
        hook, queue = self.settings.webhook[index], self._queues[index]
        while True:
            notice = await queue.get()
            try:
                why = await self._delivery.post(hook, notice)
            except Exception as error:  # shown (never its text: it may hold the URL)
                why = f"unexpected {type(error).__name__}"
            finally:
                queue.task_done()
            if why:
                self._failed(f"notify {index}", f"notify: webhook {hook.shown} failed: {why}")
            else:
                self.problems.clear(f"notify {index}")

    def _failed(self, what: str, line: str) -> None:
        self.problems.set(what, line)
        self.report(line)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, until what was queued is claimed and
        delivered (or given up): a command that ends (``molt rollout``) tells its news."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._claims.join()
                for queue in self._queues.values():
                    await queue.join()

    async def close(self, grace: float = 2.0) -> None:
        """Stop (within ``grace`` seconds): this Molt no longer tells anything. The claims
        it holds are left to expire, not given back."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        await self._delivery.close()


class Watched(Protocol):
    """What :func:`telling` needs of a session (a :class:`FleetSession`)."""

    @property
    def fleet(self) -> FleetConfig: ...
    @property
    def backend(self) -> Backend: ...
    @property
    def feed(self) -> Feed: ...
    @property
    def journal_view(self) -> JournalView: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def operator(self) -> str: ...
    async def attention(self) -> AttentionChanged: ...


@contextlib.asynccontextmanager
async def telling(
    session: Watched, report: Callable[[str], None] = lambda line: None
) -> AsyncIterator[None]:
    """Around a command that drives something to its end without following the fleet
    (``molt rollout``): a look before (old news), a look after, and what it showed told
    — within :data:`SETTLE` seconds — before the command returns. Interrupted (Ctrl-C),
    it tells nothing."""
    settings = session.fleet.notify
    if settings is None or session.read_only:
        yield
        return
    notifier = Notifier(
        settings,
        session.backend,
        session.fleet.name,
        session.feed.problems,
        operator=lambda: session.operator or "molt",
    )
    notifier.report = report
    notifier.start()

    async def look() -> None:
        with contextlib.suppress(BackendError):
            notifier.looked(await session.attention(), session.journal_view.records())

    await look()
    try:
        yield
    except Exception:
        await look()
        await notifier.settle(SETTLE)
        raise
    else:
        await look()
        await notifier.settle(SETTLE)
    finally:
        await notifier.close()
