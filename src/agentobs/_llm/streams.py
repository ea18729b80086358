"""Transparent proxies for the streams LLM calls return (sync and async).

The caller gets an object that behaves like the stream it wrapped (``wrapt.ObjectProxy``:
same type for ``isinstance``, same attributes and methods), plus three things:

* the time to the first chunk is measured;
* every chunk is shown to the call's :class:`~agentobs._llm.usage.StreamState` (usage arrives in
  the last chunks); a failure in our code on a chunk is logged once and the chunk is still
  returned, unchanged;
* the call ends exactly once, on whichever comes first: the stream is exhausted, closed
  (``close()``, ``aclose()``, a ``with`` block), fails, or is garbage-collected unfinished
  (abandoned).

The one chunk a proxy may hold back is the usage-only final chunk that agentobs itself asked
OpenAI for (``stream_options.include_usage``) when the caller had not: the caller receives
exactly the chunks it would have received without agentobs.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, Protocol

import wrapt
from opentelemetry import context as otel_context

from .._errors import internal_errors

END_EXHAUSTED = "exhausted"
END_CLOSED = "closed"
END_ERROR = "error"
END_ABANDONED = "abandoned"


class StreamOwner(Protocol):
    """What a proxy reports to: the LLM call the stream belongs to."""

    def on_chunk(self, chunk: Any) -> bool:
        """Read one chunk; return True to hold it back (agentobs's own usage chunk)."""

    def finish_stream(self, exc: BaseException | None, how: str) -> None:
        """End the call (called once)."""


def _held(owner: StreamOwner, chunk: Any) -> bool:
    """Show ``chunk`` to the owner; whether to hold it back. Never raises: a failure of ours
    is logged once and the chunk goes to the caller unchanged."""
    try:
        return owner.on_chunk(chunk)
    except Exception as exc:
        with internal_errors("stream.chunk"):
            raise exc
    return False


def _next_of(stream: Any) -> Callable[[], Any]:
    step: Callable[[], Any]
    if getattr(type(stream), "__next__", None) is not None:
        step = stream.__next__
    else:
        step = iter(stream).__next__
    return step


class Ending:
    """Calls the owner's ``finish_stream`` at most once, whoever asks first."""

    __slots__ = ("lock", "owner")

    def __init__(self, owner: StreamOwner) -> None:
        self.owner = owner
        self.lock = threading.Lock()

    def end(self, exc: BaseException | None, how: str) -> None:
        if self.lock.acquire(blocking=False):  # never released: the end happens once
            with internal_errors("stream.end"):
                self.owner.finish_stream(exc, how)

    @property
    def done(self) -> bool:
        return self.lock.locked()


class _StreamProxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The core the sync and async shells share: the owner, the one ending, the wrapped
    stream's step function, the context attached around each step, and the end as abandoned
    when the proxy is collected before the stream ended."""

    def __init__(self, wrapped: Any, owner: StreamOwner, context: Any = None) -> None:
        super().__init__(wrapped)
        self._self_owner = owner
        self._self_ending = Ending(owner)
        self._self_next: Callable[[], Any] | None = None
        self._self_context = context

    def _self_stopped(self, exc: BaseException) -> None:
        """The wrapped stream raised ``exc``: exhausted, or failed."""
        if isinstance(exc, (StopIteration, StopAsyncIteration)):
            self._self_ending.end(None, END_EXHAUSTED)
        else:
            self._self_ending.end(exc, END_ERROR)

    def _self_closed(self) -> None:
        self._self_ending.end(None, END_CLOSED)

    def __del__(self) -> None:
        ending = getattr(self, "_self_ending", None)
        if ending is not None and not ending.done:
            ending.end(None, END_ABANDONED)


class LLMStream(_StreamProxy):
    """A sync stream (iterator, generator, ``openai.Stream``...) seen by one LLM call."""

    def __iter__(self) -> LLMStream:
        return self

    def _self_step(self, step: Callable[[], Any]) -> Any:
        context = self._self_context
        while True:
            token = None if context is None else otel_context.attach(context)
            try:
                chunk = step()
            except BaseException as exc:
                self._self_stopped(exc)
                raise
            finally:
                if token is not None:
                    otel_context.detach(token)
            if not _held(self._self_owner, chunk):
                return chunk
            step = self._self_next or _next_of(self.__wrapped__)

    def __next__(self) -> Any:
        step = self._self_next
        if step is None:
            step = self._self_next = _next_of(self.__wrapped__)
        if self._self_context is not None:
            return self._self_step(step)
        try:  # the common case, inlined: no context to attach
            chunk = step()
        except BaseException as exc:
            self._self_stopped(exc)
            raise
        try:  # _held(), inlined: one call less per chunk
            held = self._self_owner.on_chunk(chunk)
        except Exception as exc:
            with internal_errors("stream.chunk"):
                raise exc
            held = False
        if held:
            return self.__next__()
        return chunk

    def send(self, value: Any) -> Any:
        """Generator protocol: send ``value`` into the wrapped generator."""
        return self._self_step(lambda: self.__wrapped__.send(value))

    def throw(self, *args: Any) -> Any:
        """Generator protocol: raise an exception inside the wrapped generator."""
        return self._self_step(lambda: self.__wrapped__.throw(*args))

    def close(self) -> Any:
        """Close the wrapped stream; the call ends (as closed, if it had not ended)."""
        try:
            close = getattr(self.__wrapped__, "close", None)
            return None if close is None else close()
        finally:
            self._self_closed()

    def __enter__(self) -> LLMStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_closed()


class AsyncLLMStream(_StreamProxy):
    """An async stream (async iterator or generator, ``openai.AsyncStream``...)."""

    def __aiter__(self) -> AsyncLLMStream:
        return self

    async def _self_step(self, step: Callable[[], Any]) -> Any:
        context = self._self_context
        while True:
            token = None if context is None else otel_context.attach(context)
            try:
                chunk = await step()
            except BaseException as exc:
                self._self_stopped(exc)
                raise
            finally:
                if token is not None:
                    otel_context.detach(token)
            if not _held(self._self_owner, chunk):
                return chunk
            step = self._self_anext()

    def _self_anext(self) -> Callable[[], Any]:
        step = self._self_next
        if step is None:
            wrapped = self.__wrapped__
            if getattr(type(wrapped), "__anext__", None) is not None:
                step = wrapped.__anext__
            else:
                step = wrapped.__aiter__().__anext__
            self._self_next = step
        return step

    async def __anext__(self) -> Any:
        return await self._self_step(self._self_anext())

    async def asend(self, value: Any) -> Any:
        """Async generator protocol: send ``value`` into the wrapped generator."""
        return await self._self_step(lambda: self.__wrapped__.asend(value))

    async def athrow(self, *args: Any) -> Any:
        """Async generator protocol: raise an exception inside the wrapped generator."""
        return await self._self_step(lambda: self.__wrapped__.athrow(*args))

    async def _self_close(self, names: tuple[str, ...]) -> Any:
        try:
            for name in names:
                close = getattr(self.__wrapped__, name, None)
                if close is not None:
                    result = close()
                    return await result if inspect.isawaitable(result) else result
            return None
        finally:
            self._self_closed()

    async def aclose(self) -> Any:
        """Close the wrapped stream; the call ends (as closed, if it had not ended)."""
        return await self._self_close(("aclose", "close"))

    async def close(self) -> Any:
        """Close the wrapped stream (``openai.AsyncStream.close`` is a coroutine)."""
        return await self._self_close(("close", "aclose"))

    async def __aenter__(self) -> AsyncLLMStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_closed()


def is_stream(value: Any) -> bool:
    """Whether ``value`` is a sync iterator (a stream, a generator)."""
    kind = type(value)
    return hasattr(kind, "__next__") and hasattr(kind, "__iter__")


def is_async_stream(value: Any) -> bool:
    """Whether ``value`` is an async iterator."""
    return hasattr(type(value), "__anext__")


NOT_STREAM, SYNC_STREAM, ASYNC_STREAM = 0, 1, 2
_stream_kinds: dict[type, int] = {}


def stream_kind(value: Any) -> int:
    """:data:`SYNC_STREAM`, :data:`ASYNC_STREAM` or :data:`NOT_STREAM` (cached per type)."""
    kind = type(value)
    found = _stream_kinds.get(kind)
    if found is None:
        if is_stream(value):
            found = SYNC_STREAM
        elif is_async_stream(value):
            found = ASYNC_STREAM
        else:
            found = NOT_STREAM
        if len(_stream_kinds) < 1024:
            _stream_kinds[kind] = found
    return found
