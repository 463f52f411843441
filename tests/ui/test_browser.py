"""The web interface in a real browser (Debian's Chromium driven by Playwright) against a real
``stilton serve``: sign in, search, open a project and read its README, copy a snippet, make and
revoke a token, move by keyboard; axe-core finds no serious accessibility violation; every page
is photographed at a phone's and a desktop's width (under the test's tmp directory)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.dists import Dist, wheel_bytes
from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth, upload_fields

CHROMIUM = Path(os.environ.get("STILTON_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "assets" / "axe.min.js"
WIDTHS = {"phone": (375, 812), "desktop": (1280, 900)}
PASSWORD = "browser-password-1"
README = "# Widget Handbook\n\nHow to use **widgets**.\n\n```python\nimport widget\n```\n"
DIST = Dist("browser-widget", "1.2.0", summary="Widgets, seen in a browser", description=README)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    server = StiltonServer(tmp_path_factory.mktemp("browser"))
    server.start()
    try:
        server.cli("user", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")
        token = server.create_token()
        data = wheel_bytes(DIST)
        response = httpx.post(
            server.upload_url(),
            data=upload_fields(DIST, data),
            files={"content": (DIST.wheel_filename, data, "application/octet-stream")},
            headers=basic_auth("__token__", token),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(live: StiltonServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, live: StiltonServer) -> Iterator[Any]:
    # The CSP lets only Stilton's own scripts run; axe is injected by the test, so it is lifted.
    context = browser.new_context(base_url=live.url, bypass_csp=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def check(page: Any, shots: Path, name: str) -> None:
    """No serious or critical axe violation, and a screenshot at each width."""
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], v["impact"], [n["html"][:120] for n in v["nodes"][:3]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, f"{name}: {serious}"
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(shots / f"{name}-{label}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, (name, label)


def sign_in(page: Any) -> None:
    page.goto("/-/login?next=/-/tokens")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/-/tokens")


def test_search_open_a_project_and_read_its_readme(page: Any, tmp_path: Path) -> None:
    page.goto("/")
    check(page, tmp_path, "home")
    page.get_by_label("Search projects").fill("widget")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=widget")
    check(page, tmp_path, "search")
    page.get_by_role("link", name="browser-widget").first.click()
    page.wait_for_url("**/local/browser-widget/")
    assert page.get_by_role("heading", name="Widget Handbook").is_visible()
    assert page.locator(".readme strong").inner_text() == "widgets"
    check(page, tmp_path, "project")


def test_copy_a_snippet(page: Any, live: StiltonServer, tmp_path: Path) -> None:
    page.goto("/local/")
    check(page, tmp_path, "index")
    code = page.locator('code[data-snippet="pip-command"]')
    page.get_by_role("button", name="Copy Command line").first.click()
    assert page.evaluate("navigator.clipboard.readText()") == code.inner_text()
    assert f"{live.url}/local/simple/" in code.inner_text()
    sync_api.expect(page.locator("#announce")).to_have_text("Copied to the clipboard")


def test_sign_in_make_and_revoke_a_token(page: Any, tmp_path: Path) -> None:
    sign_in(page)
    check(page, tmp_path, "tokens")
    page.get_by_label("What it is for").fill("laptop")
    page.get_by_label("Index").select_option("local")
    page.get_by_label("upload (and read)").check()
    page.get_by_role("button", name="Make token").click()
    token = page.locator("#new-token").inner_text()
    assert re.fullmatch(r"stl_[\w-]{40,}", token)
    row = page.get_by_role("row", name=re.compile("laptop"))
    token_id = row.locator("td").first.inner_text()
    row.get_by_role("button", name=f"Revoke token {token_id}").click()
    page.wait_for_url("**/-/tokens")
    assert page.get_by_role("row", name=re.compile("laptop")).count() == 0


def test_keyboard_first_stop_skips_to_the_content(page: Any, tmp_path: Path) -> None:
    page.goto("/local/browser-widget/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_pages_for_errors_sign_in_and_the_api(page: Any, tmp_path: Path) -> None:
    for name, path in (
        ("not-found", "/no-such/thing/"),
        ("login", "/-/login"),
        ("api", "/api/docs"),
    ):
        page.goto(path)
        check(page, tmp_path, name)
