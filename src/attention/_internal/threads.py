"""One thread pool per process, and the BLAS library held to one thread while it works.

The blocked path runs query blocks on one thread per core; each thread's matrix products
must then be single-threaded, or BLAS threads and ours fight over the cores.

- **Any calling thread.** threadpoolctl (3.8) lets only one *controlling* thread change
  OpenBLAS's thread count, the first that ever sets it, and silently ignores the others; it
  hands control back only when a ``with threadpool_limits(...)`` block of that thread ends. So
  the limit here takes control for the moment of each change (``_set_blas_threads``), from
  whichever thread enters first or leaves last, and releases it at once: a user's own
  threadpoolctl limits, from any thread, keep working.
- **Concurrent callers.** The BLAS limit is counted: the first caller to enter sets BLAS to
  one thread and remembers the previous counts, the last one to leave restores them. (Each
  caller saving and restoring on its own would leave the limit at 1 when they overlap.)
- **Fork safety.** A process started by ``fork`` inherits the pool object but none of its
  threads: work submitted to it would wait forever. The pool and the BLAS bookkeeping are
  reset in the child (``os.register_at_fork``), so the child builds its own. In the parent,
  OpenBLAS shuts its own threads down before every fork; a multi-threaded BLAS call running in
  another thread at that moment never returns, which the one-thread limit avoids for the
  products made inside the blocks (the limit used to hold only for the first calling thread).
- **Ctrl-C.** Python raises ``KeyboardInterrupt`` in the main thread only. When it arrives,
  no new block starts; the blocks already running on other threads finish (one block each),
  then the interrupt is raised, with the pool and the BLAS counts as they were.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

Item = TypeVar("Item")


@cache
def cores() -> int:
    """Return the number of cores, read once: ``os.cpu_count()`` takes microseconds a call."""
    return os.cpu_count() or 1


@cache
def executor() -> ThreadPoolExecutor:
    """Return the process's one thread pool.

    One pool for the process: starting threads on every call costs milliseconds. The calling
    thread is the other worker (see ``run_on_all_cores``).
    """
    return ThreadPoolExecutor(max(1, cores() - 1), thread_name_prefix="attention")


def run_on_all_cores(run: Callable[[Item], None], items: Sequence[Item]) -> None:
    """``run(item)`` for every item, in order of start, on the pool's threads and this one.

    The calling thread takes work too, so it starts at once instead of waiting for a pool
    thread to wake up (hundreds of microseconds on some virtual machines). An exception in any
    thread, or Ctrl-C, stops the hand-out of items; the items already started finish, then the
    first exception is raised here.
    """
    queue = iter(items)
    lock = threading.Lock()
    stopped = threading.Event()

    def worker() -> None:
        while not stopped.is_set():
            with lock:
                item = next(queue, None)
            if item is None:
                return
            try:
                run(item)
            except BaseException:
                stopped.set()  # no thread takes another item
                raise

    helpers = [executor().submit(worker) for _ in range(min(cores(), len(items)) - 1)]
    error: BaseException | None = None
    try:
        worker()
    except BaseException as raised:  # KeyboardInterrupt included: stop handing out items
        stopped.set()
        error = raised
    for helper in helpers:
        error = _wait_for(helper, stopped) or error
    if error is not None:
        raise error


def _wait_for(helper: Future[None], stopped: threading.Event) -> BaseException | None:
    """Wait for a helper thread, keeping a Ctrl-C for later.

    Wait until ``helper`` has finished; return its exception, or a Ctrl-C that arrived while
    waiting (after which the wait goes on: the helper is running a block on shared arrays).
    """
    error: BaseException | None = None
    while True:
        try:
            helper.result()
            return error
        except BaseException as raised:
            stopped.set()
            error = error or raised
            if helper.done():
                return error


def run_each(run: Callable[[Item], None], items: Sequence[Item]) -> None:
    """Call ``run(item)`` for every item, on all cores when that helps.

    ``run(item)`` for every item: on all cores with BLAS held to one thread when there is more
    than one item and more than one core, else one after another on this thread.
    """
    if len(items) > 1 and cores() > 1:
        with one_blas_thread():
            run_on_all_cores(run, items)
    else:
        for item in items:
            run(item)


@cache
def blas_libraries() -> list[Any]:
    """Threadpoolctl's controllers of the loaded BLAS libraries (found once: it scans the process)."""
    from threadpoolctl import ThreadpoolController

    return [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]


def _set_blas_threads(counts: Sequence[int]) -> list[int]:
    """Set each BLAS library's thread count, from this thread, and return the previous counts.

    OpenBLAS's controlling thread (see the module notes) is cleared before and after, so the
    change takes effect from any thread and leaves no thread holding control.
    """
    from threadpoolctl import OpenBLASController

    release = getattr(OpenBLASController, "clear_controlling_thread", None)  # threadpoolctl >= 3.6
    if release is not None:
        release(force=True)
    try:
        previous = []
        for lib, count in zip(blas_libraries(), counts, strict=True):
            previous.append(lib.num_threads)
            lib.set_num_threads(count)
        return previous
    finally:
        if release is not None:
            release(force=True)


class BlasLimit:
    """The counted one-thread BLAS limit (see the module notes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved: list[int] | None = None  # the counts before the first user entered

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.users == 0:
                self.saved = _set_blas_threads([1] * len(blas_libraries()))
            self.users += 1
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0 and self.saved is not None:
                    _set_blas_threads(self.saved)
                    self.saved = None


one_blas_thread = BlasLimit()


def after_fork_in_child() -> None:
    executor.cache_clear()  # the parent's pool has no threads here
    # Only the forking thread exists here, and it is not inside a limit: undo one the parent's
    # other threads held, and start counting afresh (their lock may have been held, too).
    saved = one_blas_thread.saved
    one_blas_thread.__init__()  # type: ignore[misc]
    if saved is not None:
        _set_blas_threads(saved)


os.register_at_fork(after_in_child=after_fork_in_child)
