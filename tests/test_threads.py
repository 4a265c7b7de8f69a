"""The thread pool and the BLAS limit of the blocked functions: from any thread, across fork, on Ctrl-C."""

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import attention
from attention import flash_attention
from attention._internal import threads


def blas_counts() -> list[int]:
    return [lib.num_threads for lib in threads.blas_libraries()]


@pytest.fixture
def two_blas_threads(monkeypatch):
    """BLAS at two threads (set by this thread, the way a user's program does) and two cores, so
    that a limit to one thread is visible whatever the machine and the environment say."""
    if not threads.blas_libraries():
        pytest.skip("threadpoolctl finds no BLAS library")
    monkeypatch.setattr(threads, "cores", lambda: 2)
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_blas_is_limited_inside_a_call_made_from_a_thread_that_did_not_call_first(two_blas_threads, monkeypatch):
    seen = []
    real = threads.run_on_all_cores
    monkeypatch.setattr(threads, "run_on_all_cores", lambda run, items: seen.append(blas_counts()) or real(run, items))
    rng = np.random.default_rng(13)
    q, k, v = (rng.standard_normal((2, 300, 8)) for _ in range(3))
    flash_attention(q, k, v, block_size=64)  # this thread calls first
    other = threading.Thread(target=flash_attention, args=(q, k, v), kwargs={"block_size": 64})
    other.start()
    other.join()
    assert seen == [[1] * len(blas_counts())] * 2  # read inside both calls
    assert blas_counts() == [2] * len(seen[0])  # and restored after each


def test_overlapping_calls_where_a_later_thread_leaves_last_restore_the_user_setting(two_blas_threads):
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
    assert blas_counts() == [2] * len(one)  # restored by the second thread, which never set it


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


def test_a_fork_while_another_thread_is_inside_a_call_hangs_neither_process():
    # A thread that did not call first keeps calling; the main thread forks children that call too.
    result = run_script("""
        import os, threading, time
        import numpy as np
        from threadpoolctl import threadpool_limits
        from attention import flash_attention
        threadpool_limits(limits=2, user_api="blas")  # BLAS threads, whatever the environment says
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
        threadpool_limits(limits=2, user_api="blas")
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
        assert counts() == [2] * len(counts()), counts()
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
