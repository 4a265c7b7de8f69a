import os

import numpy as np
import pytest
from hypothesis import settings
from site_build import SharedBuilds

# In CI the property tests are derandomized, so a run is reproducible; locally they explore
# new examples on every run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

#: The session fixtures of tests/site/conftest.py that read a built site, and the build each reads.
BUILT = {"built_site": "site", "offline_site": "offline", "vault_site": "vault"}


def reads_a_site(item) -> bool:
    return any(name in BUILT for name in getattr(item, "fixturenames", ()))


def pytest_collection_modifyitems(items):
    # Tests that read a built site run after those that need none, which use the cores while the sites
    # build. The views of every page (a minute or more each: the longest tests) go first, so that none is
    # left running alone at the end: the first starts at once on one worker, waits for the site and then
    # runs beside the other worker's tests; the others come right after the tests that need no site.
    views = [item for item in items if "test_every_page.py" in item.nodeid]
    items.sort(key=lambda item: (0 if item in views[:1] else 2 if item in views else 1 + 2 * reads_a_site(item)))


@pytest.fixture(scope="session", autouse=True)
def shared_builds(request, tmp_path_factory):
    """The run's site builds, in one folder for every pytest-xdist worker, started in the background
    by the first test of each process for every selected test that will read one."""
    base = tmp_path_factory.getbasetemp()
    builds = SharedBuilds((base.parent if hasattr(request.config, "workerinput") else base) / "shared-builds")
    needed = {BUILT[name] for item in request.session.items if reads_a_site(item)
              for name in item.fixturenames if name in BUILT}
    for kind in SharedBuilds.KINDS:
        if kind in needed:
            builds.start(kind)
    yield builds
    builds.stop()


@pytest.fixture
def one_blas_thread():
    """BLAS held to one thread for a test that trains a model: beside another pytest-xdist worker,
    two BLAS threads per process fight over two cores. Only for such tests, not for the whole run:
    the tests of the library's own BLAS limit need BLAS as the user has it. (Set and restored in
    the test's thread, as threadpoolctl requires.)"""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def exp2_inputs(monkeypatch):
    """Record the smallest argument every exp2 call of the kernel receives (the flash tests)."""
    seen = []
    real = np.exp2

    def spy(x, *args, **kwargs):
        seen.append(float(np.min(x)) if np.size(x) else np.inf)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(np, "exp2", spy)
    return seen
