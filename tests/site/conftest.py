import pytest
from browsing import ARGS, CHROMIUM, forget, need_chromium, open_page, reset, serve
from site_build import SharedBuilds


def _built(builds: SharedBuilds, kind: str, what: str):
    site, result = builds.wait(kind)
    assert result["returncode"] == 0, f"{what} failed:\n{result['stdout']}\n{result['stderr']}"
    return site, result


@pytest.fixture(scope="session")
def built_site(shared_builds):
    """The project's site, built once with ``mkdocs build --strict``."""
    return _built(shared_builds, "site", "mkdocs build --strict")[0]


@pytest.fixture(scope="session")
def vault_site(shared_builds):
    """The fixture vault (tests/site/vault: project pages plus a learner's garden/), built with the
    project's strict configuration: ``(site dir, build log)``."""
    site, result = _built(shared_builds, "vault", "the vault's build")
    return site, result["stderr"]


@pytest.fixture(scope="session")
def offline_site(shared_builds):
    """The offline copy (``make offline``): the site as files that work from ``file://``."""
    return _built(shared_builds, "offline", "the offline build")[0]


# One server, one Chromium and one browsing context per worker: the context keeps its HTTP cache and the
# scripts V8 has compiled (Material's bundle, KaTeX, mermaid) from one test to the next, as a reader's
# browser does between pages. A cold context per test cost about 1.2 s of CPU per page load (Chromium 156).
@pytest.fixture(scope="session")
def site_url(built_site):
    yield from serve(built_site)


@pytest.fixture(scope="session")
def vault_url(vault_site):
    yield from serve(vault_site[0])


@pytest.fixture(scope="session")
def browser():
    need_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def browsing_context(browser):
    context = browser.new_context()
    # A blank tab stays open all session: in a context with no page left open, Chromium 156 spent about
    # 1.4 s of CPU on each test's new page and its first load, against 0.7 s with one tab kept open.
    context.new_page()
    yield context
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def _tab(browsing_context):
    """The page the tests share (``tab["page"]``), or None when the next test should open a new one."""
    tab = {"page": None}
    yield tab
    if tab["page"] is not None:
        tab["page"].close()


@pytest.fixture
def page(request, browsing_context, _tab):
    """A page that starts with nothing an earlier test stored or changed (see :func:`browsing.open_page`
    and :func:`browsing.reset`): one page reused from test to test, replaced after a test that failed."""
    if _tab["page"] is None:
        _tab["page"] = open_page(browsing_context)
    page = _tab["page"]
    yield page
    if request.node.stash.get(FAILED, False) or page.is_closed():
        _tab["page"] = None
        if not page.is_closed():
            forget(page)
    else:
        reset(page)
