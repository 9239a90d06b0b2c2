"""Bridges between docqa's blocking calls and the server's event loop.

:class:`Gate` admits the in-process model's requests one at a time, with a bounded queue;
:func:`pieces` runs an :class:`~docqa.answering.AnswerStream` on its own thread and hands its
pieces to the loop; :func:`stoppable` runs any other call that may reach the LLM (retrieval
with a follow-up's rewrite, a comparison). When the consumer goes away (a client that
disconnects closes the response's generator, or cancels the task that waits), the call is told
to stop (:func:`docqa.llm.stop_on`: the LLM stops at once, during its prompt evaluation too),
and the consumer waits for it to end before it lets the next request in.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

import anyio

from docqa.llm.stopping import stop_on
from docqa.server.errors import Busy

T = TypeVar("T")


class Gate:
    """At most ``slots`` holders at once and ``queue`` waiting; past that, :class:`Busy`.

    ``slots=None`` admits everyone (backends that serve requests in parallel). A waiter whose
    task is cancelled (its client left) leaves the queue at once.
    """

    def __init__(self, slots: int | None, queue: int, retry_after_s: int = 5) -> None:
        self.slots, self.queue, self.retry_after_s = slots, queue, retry_after_s
        self._sem: asyncio.Semaphore | None = asyncio.Semaphore(slots) if slots else None
        self.waiting = 0
        self.holding = 0
        self.waits: collections.deque[float] = collections.deque(maxlen=10_000)
        """Seconds each admitted request waited for its place (the latest 10,000)."""

    @contextlib.asynccontextmanager
    async def place(self) -> AsyncIterator[float]:
        """Hold a place; yields the seconds spent waiting for it.

        Raises:
            Busy: the queue is full.
        """
        if self._sem is None:
            yield 0.0
            return
        if self._sem.locked() and self.waiting >= self.queue:
            raise Busy(
                f"the in-process model is answering {self.holding} request and {self.waiting} "
                f"are waiting (the most --queue allows): retry in {self.retry_after_s} s",
                retry_after=self.retry_after_s,
            )
        started = time.perf_counter()
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        self.holding += 1
        waited = time.perf_counter() - started
        self.waits.append(waited)
        try:
            yield waited
        finally:
            self.holding -= 1
            self._sem.release()


async def in_thread(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` on a worker thread (the event loop keeps serving)."""
    return await anyio.to_thread.run_sync(func, *args)


async def stoppable(func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` on a thread of its own, its LLM calls stopped if this task is cancelled
    (the client left); returns or re-raises only once the thread has finished."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()
    stop = threading.Event()

    def settle(result: Any, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def work() -> None:
        try:
            with stop_on(stop):
                result: Any = func(*args)
        except BaseException as error:  # handed to the awaiting task, which raises it
            outcome: tuple[Any, BaseException | None] = (None, error)
        else:
            outcome = (result, None)
        with contextlib.suppress(RuntimeError):  # the loop closed under us (server stopping)
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="docqa-serve-call", daemon=True).start()
    try:
        return await asyncio.shield(done)
    except BaseException:
        stop.set()
        with anyio.CancelScope(shield=True), contextlib.suppress(BaseException):
            await done
        raise


async def pieces(source: Iterable[T]) -> AsyncIterator[T]:
    """Iterate ``source`` on a thread of its own; closing this generator closes ``source``.

    The thread checks for the close after each item and then closes the iterator (an
    :class:`~docqa.answering.AnswerStream` stops its LLM call there). A source with a
    ``cancel`` method (an :class:`~docqa.answering.AnswerStream`) is told at once, so a model
    still reading its prompt stops without waiting for its first token. This generator returns
    only once the thread has finished, so a caller holding a :class:`Gate` place frees it when
    the model has really stopped.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()
    finished = threading.Event()

    def put(kind: str, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us (server stopping)
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

    def work() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if stop.is_set():
                    break
                put("item", item)
            else:
                put("end", None)
        except BaseException as error:  # handed to the consumer, which raises it
            put("error", error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            finished.set()
            put("finished", None)

    threading.Thread(target=work, name="docqa-serve-stream", daemon=True).start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        cancel: Callable[[], None] | None = getattr(source, "cancel", None)
        if cancel is not None and not finished.is_set():
            cancel()
        with anyio.CancelScope(shield=True):
            while not finished.is_set():
                await anyio.sleep(0.01)
