"""Tool calls in flight upstream: each one may outlive the downstream request that started it, so
that a client told "call the tool again when you are done" resumes the same step."""

from __future__ import annotations

import contextvars
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp_types import INTERNAL_ERROR, ErrorData, InputRequest
from pydantic import BaseModel

from ..client import ConsentRequest, Decision
from ._progress import Progress

KEEP_FINISHED = 600.0
"""Seconds a result nobody has collected yet (its caller was told to call again) is kept."""


@dataclass
class Ask:
    """One link the upstream server sent during a step, waiting for what the client in front says."""

    request: ConsentRequest
    decided: anyio.Event = field(default_factory=anyio.Event)
    decision: Decision = Decision.CANCEL
    opens: bool = False
    """On accept, whether the bridge opens the link in the system browser itself."""

    def decide(self, decision: Decision, *, opens: bool = False) -> None:
        if self.decided.is_set():
            return
        self.decision, self.opens = decision, opens
        self.decided.set()


@dataclass
class Pass:
    """A request from the upstream server that goes to the client in front as it is (a form
    elicitation, sampling, roots), waiting for the client's answer."""

    request: InputRequest
    result_type: type[BaseModel]
    answered: anyio.Event = field(default_factory=anyio.Event)
    result: BaseModel | ErrorData | None = None

    def answer(self, result: BaseModel | ErrorData) -> None:
        if self.answered.is_set():
            return
        self.result = result
        self.answered.set()

    @property
    def decided(self) -> anyio.Event:
        return self.answered


Item = Ask | Pass
"""What a step's call waits on from the client in front."""


class Step:
    """One upstream `tools/call`: the links it asks about, then its result or its error."""

    def __init__(self, tool: str, arguments: dict[str, Any]) -> None:
        self.id = secrets.token_urlsafe(16)
        self.tool = tool
        self.arguments = arguments
        self.key = key_of(tool, arguments)
        self.done = anyio.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None
        self.awaiting: Ask | None = None
        """The ask whose question went to the client inside an `InputRequiredResult`."""
        self.awaiting_form = False
        """Whether that question is the consent form (else the link itself, in URL mode)."""
        self.passing: Pass | None = None
        """The upstream's request passed on to the client inside an `InputRequiredResult`."""
        self.shown: Ask | None = None
        """The link given to a client without elicitation, in a tool result."""
        self.scope = anyio.CancelScope()
        """Around the upstream call: cancelled when the client in front gives up on it."""
        self.stopped_by: BaseException | None = None
        self.followers: list[Progress] = []
        """The downstream requests waiting on this step, each with its own progress token (or none)."""
        self.answers: dict[str, Decision] = {}
        """What was decided for each link already asked about (by elicitation id, else address)."""
        self.asked: list[Ask] = []
        self.passed: list[Pass] = []
        self._asks: deque[Item] = deque()
        self._wake = anyio.Event()

    def push(self, item: Item) -> None:
        if isinstance(item, Ask):
            self.asked.append(item)
        else:
            self.passed.append(item)
        self._asks.append(item)
        self._notify()

    @property
    def waits_on_a_person(self) -> bool:
        """A link was sent during this call and the call has not ended: someone is in the browser,
        or being asked."""
        return bool(self.asked) and not self.done.is_set()

    def stop(self, because: BaseException | None = None) -> None:
        """Give up on the step: the upstream call is cancelled, and every question still open with it
        (`because` is what the caller still waiting is told)."""
        self.stopped_by = because
        self.scope.cancel()
        for ask in self.asked:
            ask.decide(Decision.CANCEL)
        for passed in self.passed:
            passed.answer(ErrorData(code=INTERNAL_ERROR, message="the call was stopped"))

    async def relay(self, progress: float, total: float | None, message: str | None) -> None:
        """Upstream progress for this call, to each downstream request that waits on it."""
        for follower in list(self.followers):
            await follower.send(progress, total, message)

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.finished_at = time.monotonic()
        self.done.set()
        self._notify()

    def _notify(self) -> None:
        wake, self._wake = self._wake, anyio.Event()
        wake.set()

    async def next_ask(self, timeout: float) -> Item | None:
        """The next link waiting for a decision (or request to pass on); None once the call
        finished, or after `timeout`."""
        with anyio.move_on_after(timeout):
            while True:
                if self._asks:
                    return self._asks.popleft()
                if self.done.is_set():
                    return None
                await self._wake.wait()
        return None


def key_of(tool: str, arguments: dict[str, Any]) -> str:
    """Identical calls (same tool, same arguments) share a key."""
    return json.dumps([tool, arguments], sort_keys=True, separators=(",", ":"), default=str)


current: contextvars.ContextVar[Step | None] = contextvars.ContextVar("handoff_bridge_step", default=None)
"""The step whose upstream call runs in this task (links asked inside that call belong to it)."""


class Steps:
    """The steps in flight, and those finished whose caller has not collected the result yet."""

    def __init__(self) -> None:
        self._by_key: dict[str, Step] = {}
        self._by_id: dict[str, Step] = {}

    def find(self, tool: str, arguments: dict[str, Any]) -> Step | None:
        self._prune()
        return self._by_key.get(key_of(tool, arguments))

    def by_id(self, step_id: str) -> Step | None:
        self._prune()
        return self._by_id.get(step_id)

    def add(self, step: Step) -> None:
        self._by_key[step.key] = step
        self._by_id[step.id] = step

    def collected(self, step: Step) -> None:
        """Its result was given to a caller: an identical call from now on starts anew."""
        if self._by_key.get(step.key) is step:
            del self._by_key[step.key]
        self._by_id.pop(step.id, None)

    def running(self) -> list[Step]:
        """The steps whose upstream call is under way."""
        return [step for step in self._by_key.values() if not step.done.is_set()]

    def owner(self) -> Step | None:
        """The step a link belongs to: the one whose call asks (or the only one in flight, for a
        request the server sent outside any call's task)."""
        step = current.get()
        if step is not None:
            return step
        running = self.running()
        return running[0] if len(running) == 1 else None

    def _prune(self) -> None:
        now = time.monotonic()
        for step in list(self._by_id.values()):
            if step.finished_at is not None and now - step.finished_at > KEEP_FINISHED:
                self.collected(step)
