"""Search by name (normalised, exact, prefix, fuzzy) and by the words of a summary, kept up to
date from the journal whichever process made the change."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from stilton.runtime import open_runtime
from tests.support.dists import Dist, write_wheel
from tests.ui.conftest import BROWSER, runtime_of, upload

DISTS = (
    Dist("requests-toolbelt", "1.0", summary="A utility belt for advanced users"),
    Dist("Acme_Widgets", "2.1", summary="Widgets for the factory floor"),
    Dist("acme-gadgets", "0.3", summary="Gadgets, with a belt"),
    Dist("zebra", "1.0", summary="Stripes"),
)


def found(client: TestClient, query: str) -> list[str]:
    page = client.get("/search", params={"q": query}, headers=BROWSER).text
    return re.findall(r'<li><a href="/local/([^/]+)/">', page)


def test_names_words_and_typos(client: TestClient) -> None:
    for dist in DISTS:
        upload(client, dist)
    assert found(client, "Acme.Widgets")[0] == "acme-widgets"  # normalised, exact first
    assert set(found(client, "acme")) == {"acme-widgets", "acme-gadgets"}  # prefix
    assert set(found(client, "belt")) == {"requests-toolbelt", "acme-gadgets"}  # summaries
    assert found(client, "factory")[0] == "acme-widgets"
    assert "requests-toolbelt" in found(client, "requets-toolbelt")  # a typo
    assert found(client, "zzzz-nothing") == []
    assert found(client, '"*) OR (') == []  # query syntax is not passed through


def test_a_change_made_by_another_process_is_found(client: TestClient, tmp_path: Path) -> None:
    upload(client, DISTS[0])
    assert found(client, "toolbelt") == ["requests-toolbelt"]
    other = open_runtime(runtime_of(client).settings)  # as `stilton import` would
    try:
        other.hosted("local").import_file(
            write_wheel(Dist("imported-thing", "1.0"), tmp_path), "cli"
        )
        other.hosted("local").delete("requests-toolbelt", "1.0", None, "cli")
    finally:
        other.close()
    assert found(client, "imported") == ["imported-thing"]
    assert found(client, "toolbelt") == []


def test_the_index_page_sorts_by_last_upload(client: TestClient) -> None:
    for dist in DISTS:
        upload(client, dist)
    by_upload = client.get("/local/?sort=upload", headers=BROWSER).text
    names = re.findall(r'<li><a href="/local/([^/]+)/">', by_upload)
    assert names == ["zebra", "acme-gadgets", "acme-widgets", "requests-toolbelt"]
    by_name = client.get("/local/?sort=name", headers=BROWSER).text
    assert re.findall(r'<li><a href="/local/([^/]+)/">', by_name) == sorted(names)
    assert "Stripes" in by_name
