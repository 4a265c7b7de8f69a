import pytest
from browsing import ARGS, CHROMIUM, forget, need_chromium, open_page, serve
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
    yield context
    context.close()


@pytest.fixture
def page(browsing_context):
    """A fresh page (see :func:`browsing.open_page`) that starts with nothing an earlier test stored."""
    page = open_page(browsing_context)
    yield page
    forget(page)
