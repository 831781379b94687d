"""Ask again, with given delays, while an error says the other side is away for a moment."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_chain, wait_fixed


def ask_again(delays: Sequence[float], *, when: Callable[[BaseException], bool]) -> AsyncRetrying:
    """`await ask_again(delays, when=...)(function, *args)` awaits `function(*args)`, then once more after each
    delay while `when(error)` holds for the error it raised; the last error is raised as it is."""
    return AsyncRetrying(
        wait=wait_chain(*(wait_fixed(delay) for delay in delays)),
        stop=stop_after_attempt(len(delays) + 1),
        retry=retry_if_exception(when),
        reraise=True,
    )
