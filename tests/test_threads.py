"""The thread pool and the BLAS limit of the blocked functions: from any thread, across fork, on Ctrl-C."""

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import attention
from attention import flash_attention
from attention._internal import threads


def blas_counts() -> list[int]:
    return [lib.num_threads for lib in threads.blas_libraries()]


#: The user's BLAS thread count in these tests: not 1 (the limit), not the cores (OpenBLAS's default).
USERS = 3


@pytest.fixture
def user_blas_threads(monkeypatch):
    """BLAS at ``USERS`` threads, set by this thread inside ``with threadpool_limits`` (so that this
    thread holds threadpoolctl's control, as a user's program does), and two cores: a limit to one
    thread is visible whatever the machine and the environment say."""
    if not threads.blas_libraries():
        pytest.skip("threadpoolctl finds no BLAS library")
    monkeypatch.setattr(threads, "cores", lambda: 2)
    # OpenBLAS reads a count of 0 (what None becomes) as its largest count so far: that is made
    # larger than the user's, so that a restore to anything but the user's count shows.
    with threadpool_limits(limits=USERS + 1, user_api="blas"), threadpool_limits(limits=USERS, user_api="blas"):
        yield


def test_blas_is_limited_inside_a_call_made_from_a_thread_that_did_not_call_first(user_blas_threads, monkeypatch):
    seen = []
    real = threads.run_on_all_cores
    monkeypatch.setattr(threads, "run_on_all_cores", lambda run, items: seen.append(blas_counts()) or real(run, items))
    rng = np.random.default_rng(13)
    q, k, v = (rng.standard_normal((2, 300, 8)) for _ in range(3))

    def from_another_thread() -> None:
        other = threading.Thread(target=flash_attention, args=(q, k, v), kwargs={"block_size": 64})
        other.start()
        other.join()

    from_another_thread()  # while this thread holds threadpoolctl's control
    flash_attention(q, k, v, block_size=64)
    from_another_thread()  # after this thread called
    assert seen == [[1] * len(blas_counts())] * 3  # read inside each call
    assert blas_counts() == [USERS] * len(seen[0])  # and restored after each


def test_overlapping_calls_where_a_later_thread_leaves_last_restore_the_user_setting(user_blas_threads):
    inside: dict[str, list[int]] = {}
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with threads.one_blas_thread():
            inside["first"] = blas_counts()
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with threads.one_blas_thread():
            second_in.set()
            first_out.wait(10)
            inside["second, alone"] = blas_counts()

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    one = [1] * len(blas_counts())
    assert inside == {"first": one, "second, alone": one}
    assert blas_counts() == [USERS] * len(one)  # restored by the second thread, which never set it


def test_an_error_in_a_pool_thread_is_raised_in_the_caller_and_stops_the_hand_out(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    caller, started = threading.current_thread(), []

    def run(item: int) -> None:
        started.append(item)
        if threading.current_thread() is not caller:
            raise ValueError("from the pool")
        time.sleep(0.002)

    with pytest.raises(ValueError, match="from the pool"):
        threads.run_each(run, list(range(200)))
    assert len(started) < 200  # no item is handed out after the error
    threads.run_each(lambda item: None, [1, 2, 3])  # the pool still works


def test_an_error_in_the_calling_thread_is_raised_after_the_pool_threads_finish(monkeypatch):
    monkeypatch.setattr(threads, "cores", lambda: 2)
    caller, running = threading.current_thread(), []

    def run(item: int) -> None:
        if threading.current_thread() is caller:
            raise ValueError("from the caller")
        running.append(item)
        time.sleep(0.01)
        running.remove(item)

    with pytest.raises(ValueError, match="from the caller"):
        threads.run_each(run, list(range(50)))
    assert running == []  # no pool thread was still inside an item when the error came out


def test_blas_is_limited_only_when_the_items_run_on_several_threads(user_blas_threads, monkeypatch):
    seen = []
    threads.run_each(lambda item: seen.append(blas_counts()), ["one item"])
    threads.run_each(lambda item: seen.append(blas_counts()), [1, 2])
    monkeypatch.setattr(threads, "cores", lambda: 1)
    threads.run_each(lambda item: seen.append(blas_counts()), [3, 4])  # one core: one after another
    n = len(blas_counts())
    assert seen == [[USERS] * n, [1] * n, [1] * n, [USERS] * n, [USERS] * n]


def test_a_users_own_limit_works_from_any_thread_after_a_call(user_blas_threads):
    # The limit leaves no thread holding threadpoolctl's control: while the thread that called
    # is still alive, this thread can set BLAS.
    called, finish = threading.Event(), threading.Event()

    def call_then_wait() -> None:
        threads.run_each(lambda item: None, [1, 2])
        called.set()
        finish.wait(10)

    other = threading.Thread(target=call_then_wait)
    other.start()
    called.wait(10)
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas_counts() == [2] * len(blas_counts())
    finish.set()
    other.join()
    assert blas_counts() == [USERS] * len(blas_counts())


def test_the_fork_handler_undoes_a_limit_held_by_a_thread_the_child_does_not_have(user_blas_threads, monkeypatch):
    # What a child forked during another thread's call runs (``os.register_at_fork``), called here
    # directly: the child has only the forking thread, so the limit that thread held is undone.
    monkeypatch.setattr(threads, "one_blas_thread", threads.BlasLimit())
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with threads.one_blas_thread():
            inside.set()
            leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(10)
    pool = threads.executor()
    threads.after_fork_in_child()
    assert blas_counts() == [USERS] * len(blas_counts())
    assert threads.executor() is not pool  # a new pool: the parent's has no threads in a child
    fresh = threads.one_blas_thread
    assert (fresh.users, fresh.saved) == (0, None)
    with fresh():  # and counting starts afresh
        assert blas_counts() == [1] * len(blas_counts())
    assert blas_counts() == [USERS] * len(blas_counts())
    leave.set()
    holder.join()


@pytest.mark.parametrize(("cores", "items", "helpers"), [(2, 5, 1), (4, 2, 1), (4, 9, 3)])
def test_the_pool_is_asked_for_one_helper_per_core_beside_the_caller_and_no_more_than_items(cores, items, helpers,
                                                                                            monkeypatch):
    submitted = []
    pool = threads.executor()

    class Counting:
        def submit(self, fn):
            submitted.append(fn)
            return pool.submit(fn)

    monkeypatch.setattr(threads, "cores", lambda: cores)
    monkeypatch.setattr(threads, "executor", Counting)
    done = []
    threads.run_on_all_cores(done.append, list(range(items)))
    assert sorted(done) == list(range(items)) and len(submitted) == helpers


def test_one_core_or_one_item_runs_in_order_on_the_calling_thread(monkeypatch):
    calls = []
    record = lambda item: calls.append((item, threading.current_thread()))  # noqa: E731
    threads.run_each(record, ["only"])
    monkeypatch.setattr(threads, "cores", lambda: 1)
    threads.run_each(record, [1, 2, 3])
    assert calls == [(x, threading.current_thread()) for x in ("only", 1, 2, 3)]


def run_script(script: str, timeout: float) -> subprocess.CompletedProcess:
    """A script in a fresh interpreter, killed after ``timeout`` seconds (a hang fails the test). It
    imports the same ``attention`` as this process (under mutation testing, the mutant) and has
    Python's own Ctrl-C handler (a parent that ignores SIGINT passes that on to its children)."""
    package_root = str(Path(attention.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    prologue = "import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
    try:
        return subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(script)], capture_output=True,
                              text=True, timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired as hung:
        pytest.fail(f"hung for {timeout} s; output so far: {hung.stdout!r} {hung.stderr!r}")


@pytest.mark.slow  # two processes and a timeout: make test, not make quick
def test_a_fork_while_another_thread_is_inside_a_call_hangs_neither_process():
    # A thread that did not call first keeps calling; the main thread forks children that call too.
    result = run_script("""
        import os, threading, time
        import numpy as np
        from threadpoolctl import threadpool_limits
        from attention import flash_attention
        threadpool_limits(limits=3, user_api="blas")  # BLAS threads, whatever the environment says
        from attention._internal import threads
        threads.cores = lambda: 2
        rng = np.random.default_rng(0)
        q, k, v = (rng.standard_normal((2, 2048, 64)) for _ in range(3))
        flash_attention(q, k, v, block_size=256)  # the main thread calls first
        calls = 0
        def keep_calling():
            global calls
            while True:
                flash_attention(q, k, v, block_size=256)
                calls += 1
        threading.Thread(target=keep_calling, daemon=True).start()
        for i in range(12):
            before = calls
            time.sleep(0.005 * (i % 5))
            pid = os.fork()
            if pid == 0:
                ok = np.isfinite(flash_attention(q[:1], k[:1], v[:1], block_size=256)).all()
                os._exit(0 if ok else 3)
            assert os.waitpid(pid, 0)[1] == 0, "the child failed"
            deadline = time.monotonic() + 20
            while calls <= before + 1:
                assert time.monotonic() < deadline, f"the parent's calling thread stopped after fork {i}"
                time.sleep(0.01)
        print("ok", calls)
    """, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr[-2000:]


def test_ctrl_c_starts_no_new_block_and_leaves_the_pool_and_blas_as_they_were():
    result = run_script("""
        import os, signal, time
        import numpy as np
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=3, user_api="blas")
        from attention import flash_attention, flash_attention_backward
        from attention._internal import blocked_backward, threads
        threads.cores = lambda: 2
        counts = lambda: [lib.num_threads for lib in threads.blas_libraries()]
        rng = np.random.default_rng(0)
        q, k, v = (rng.standard_normal((1, 64 * 40, 8)) for _ in range(3))
        out, lse = flash_attention(q, k, v, return_lse=True)
        started, real_run_each = [], blocked_backward.run_each
        def run_each(run, items):  # every work item (a key block) counted, and Ctrl-C at the 4th
            def counted(item):
                started.append(time.monotonic())
                if len(started) == 4:
                    os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.02)  # long enough for the interrupt to land while blocks are running
                return run(item)
            return real_run_each(counted, items)
        blocked_backward.run_each = run_each
        try:
            flash_attention_backward(out, q, k, v, out, lse, block_size=64)
        except KeyboardInterrupt:
            print("interrupted after", len(started), "of 40 blocks")
        else:
            raise SystemExit("no KeyboardInterrupt")
        assert len(started) <= 4 + 2, started  # the blocks in flight at most: no new block after the signal
        assert counts() == [3] * len(counts()), counts()
        blocked_backward.run_each = real_run_each
        grads = flash_attention_backward(out, q, k, v, out, lse, block_size=64)  # the pool still works
        assert all(np.isfinite(g).all() for g in grads)
        print("ok")
    """, timeout=60)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), (result.stdout, result.stderr[-2000:])


# --- Kept from before: the counts restored, a forked child attends --------------------------------


def _attend_in_child(queue):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((1024, 16)) for _ in range(3))
    queue.put(float(flash_attention(q, k, v, block_size=256).sum()))


def test_a_forked_child_can_attend_after_its_parent_did():
    import multiprocessing

    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((1024, 16)) for _ in range(3))
    expected = float(flash_attention(q, k, v, block_size=256).sum())  # the parent's pool now has threads
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_attend_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child hung in flash_attention")
    assert child.exitcode == 0 and queue.get(timeout=5) == pytest.approx(expected, rel=1e-12)


def test_blas_threads_are_restored_after_concurrent_calls():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    before = [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()]
    rng = np.random.default_rng(13)
    q, k, v = (rng.standard_normal((4, 300, 8)) for _ in range(3))
    with ThreadPoolExecutor(4) as pool:
        for out in pool.map(lambda _: flash_attention(q, k, v, block_size=64), range(16)):
            assert out.shape == (4, 300, 8)
    assert [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()] == before


def test_blas_threads_are_restored():
    from threadpoolctl import threadpool_info

    before = [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()]
    rng = np.random.default_rng(13)
    q, k, v = (rng.standard_normal((4, 100, 8)) for _ in range(3))
    flash_attention(q, k, v, block_size=16)
    assert [(lib["filepath"], lib["num_threads"]) for lib in threadpool_info()] == before
