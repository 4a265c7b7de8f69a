"""One thread pool per process, and the BLAS library held to one thread while it works.

The blocked path runs query blocks on one thread per core; each thread's matrix products
must then be single-threaded, or BLAS threads and ours fight over the cores.

- **Fork safety.** A process started by ``fork`` inherits the pool object but none of its
  threads: work submitted to it would wait forever. The pool and the BLAS bookkeeping are
  reset in the child (``os.register_at_fork``), so the child builds its own.
- **Concurrent callers.** The BLAS limit is counted: the first caller to enter sets BLAS to
  one thread and remembers the previous limits, the last one to leave restores them. (Each
  caller saving and restoring on its own would leave the limit at 1 when they overlap.)
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import cache


@cache
def cores() -> int:
    """The number of cores, read once: ``os.cpu_count()`` takes microseconds a call."""
    return os.cpu_count() or 1


@cache
def executor() -> ThreadPoolExecutor:
    """One pool for the process: starting threads on every call costs milliseconds. The calling
    thread is the other worker (see ``run_on_all_cores``)."""
    return ThreadPoolExecutor(max(1, cores() - 1), thread_name_prefix="attention")


def run_on_all_cores(run, items: list) -> None:
    """``run(item)`` for every item, in order of start, on the pool's threads and this one.

    The calling thread takes work too, so it starts at once instead of waiting for a pool
    thread to wake up (hundreds of microseconds on some virtual machines)."""
    queue = iter(items)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            run(item)

    helpers = [executor().submit(worker) for _ in range(min(cores(), len(items)) - 1)]
    try:
        worker()
    finally:
        for helper in helpers:
            helper.result()


def run_each(run, items: list) -> None:
    """``run(item)`` for every item: on all cores with BLAS held to one thread when there is more
    than one item and more than one core, else one after another on this thread."""
    if len(items) > 1 and cores() > 1:
        with one_blas_thread():
            run_on_all_cores(run, items)
    else:
        for item in items:
            run(item)


@cache
def blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries (built once: it scans the process)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class _BlasLimit:
    """The counted one-thread BLAS limit (see the module notes)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = 0
        self.limiter = None

    @contextlib.contextmanager
    def __call__(self):
        with self.lock:
            if self.users == 0:
                self.limiter = blas_controller().limit(limits=1, user_api="blas")
            self.users += 1
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    self.limiter.restore_original_limits()
                    self.limiter = None


one_blas_thread = _BlasLimit()


def _after_fork_in_child() -> None:
    executor.cache_clear()  # the parent's pool has no threads here
    # Only the forking thread exists here, and it is not inside a limit: undo one the parent's
    # other threads held, and start counting afresh (their lock may have been held, too).
    limiter = one_blas_thread.limiter
    one_blas_thread.__init__()
    if limiter is not None:
        limiter.restore_original_limits()


os.register_at_fork(after_in_child=_after_fork_in_child)
