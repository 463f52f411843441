"""What the command line changes about who may do what reaches both workers of a server within
about a second, even where the credentials were remembered: a changed password, a removed user,
a user moved out of a group, and an index's permissions. Each test has a user of its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import StiltonServer
from tests.support.uploads import basic_auth
from tests.support.workers import (
    TRUSTING,
    Check,
    add_user,
    everywhere,
    healthy,
    private_index,
    soon_everywhere,
)

pytestmark = pytest.mark.e2e

VAULT = "vault"
GROUP = "group:vault-readers"
PAGE = f"/{VAULT}/simple/"
INVALID = f"Index {VAULT!r} needs valid credentials"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StiltonServer]:
    # Failures here are the expected answers to revoked credentials, not guesses to stop.
    settings = {**TRUSTING, "guard_lock_after": "100000", "guard_slow_after": "100000"}
    root = tmp_path_factory.mktemp("revocation")
    with StiltonServer(root, workers=2, settings=settings) as running:
        private_index(running, VAULT, GROUP)
        yield running


def reads(username: str, password: str, status: int, text: str = "") -> Check:
    """A check: a read of the private index with these credentials answers ``status``, and
    its body holds ``text``."""

    def check(client: httpx.Client) -> bool:
        response = client.get(PAGE, headers=basic_auth(username, password))
        return response.status_code == status and text in response.text

    return check


def remembered_everywhere(server: StiltonServer, username: str, password: str) -> None:
    """Both workers have let the user in (and so remember the credentials)."""
    assert everywhere(server, reads(username, password, 200))


def test_a_changed_password_stops_working_on_every_worker(server: StiltonServer) -> None:
    add_user(server, "erin", "erin-password-old", "vault-readers")
    remembered_everywhere(server, "erin", "erin-password-old")
    server.cli("user", "passwd", "erin", "--password-stdin", stdin="erin-password-new\n")
    soon_everywhere(server, reads("erin", "erin-password-old", 401, INVALID))
    assert everywhere(server, reads("erin", "erin-password-new", 200))
    assert healthy(server)


def test_a_removed_user_is_refused_on_every_worker(server: StiltonServer) -> None:
    add_user(server, "fred", "fred-password-1", "vault-readers")
    remembered_everywhere(server, "fred", "fred-password-1")
    server.cli("user", "remove", "fred")
    soon_everywhere(server, reads("fred", "fred-password-1", 401, INVALID))
    assert healthy(server)


def test_a_user_moved_out_of_the_group_is_refused_on_every_worker(server: StiltonServer) -> None:
    add_user(server, "gina", "gina-password-1", "vault-readers")
    remembered_everywhere(server, "gina", "gina-password-1")
    server.cli("user", "set", "gina", "--group", "elsewhere")
    refused = f"user:gina isn't allowed to read index {VAULT!r}"
    soon_everywhere(server, reads("gina", "gina-password-1", 403, refused))
    server.cli("user", "set", "gina", "--group", "vault-readers")
    soon_everywhere(server, reads("gina", "gina-password-1", 200))


def test_a_permission_change_takes_effect_on_every_worker(server: StiltonServer) -> None:
    add_user(server, "hal", "hal-password-1", "vault-readers")
    private_index(server, "annex", GROUP)
    page = "/annex/simple/"

    def hal_reads(status: int) -> Check:
        def check(client: httpx.Client) -> bool:
            response = client.get(page, headers=basic_auth("hal", "hal-password-1"))
            return response.status_code == status

        return check

    def anyone_reads(status: int) -> Check:
        return lambda client: client.get(page).status_code == status

    assert everywhere(server, hal_reads(200))
    assert everywhere(server, anyone_reads(401))
    server.cli("index", "permissions", "annex", "--read=user:someone-else")
    soon_everywhere(server, hal_reads(403))
    server.cli("index", "permissions", "annex", "--read=anonymous")
    soon_everywhere(server, anyone_reads(200))
    assert everywhere(server, hal_reads(200))
