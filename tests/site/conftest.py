import pytest
from browsing import ARGS, CHROMIUM, need_chromium, serve
from site_build import build_site, build_vault


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The project's site, built once with ``mkdocs build --strict``."""
    site = tmp_path_factory.mktemp("site")
    result = build_site(site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return site


@pytest.fixture(scope="session")
def vault_site(tmp_path_factory):
    """The fixture vault (tests/site/vault: project pages plus a learner's garden/), built with the
    project's strict configuration: ``(site dir, build log)``."""
    tmp = tmp_path_factory.mktemp("vault")
    result = build_vault(tmp)
    assert result.returncode == 0, f"the vault's build failed:\n{result.stderr}"
    return tmp / "site", result.stderr


@pytest.fixture(scope="session")
def offline_site(tmp_path_factory):
    """The offline copy (``make offline``): the site as files that work from ``file://``."""
    site = tmp_path_factory.mktemp("offline")
    result = build_site(site, offline=True)
    assert result.returncode == 0, f"the offline build failed:\n{result.stderr}"
    return site


@pytest.fixture(scope="module")
def site_url(built_site):
    yield from serve(built_site)


@pytest.fixture(scope="module")
def vault_url(vault_site):
    yield from serve(vault_site[0])


@pytest.fixture(scope="module")
def browser():
    need_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page that records every URL it requests (``page.requested``)."""
    context = browser.new_context()
    page = context.new_page()
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()
