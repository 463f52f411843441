"""Queries over the web interface's search index (``search_docs``): keeping it up to date from
the journal and a proxy's pages, and finding projects by name (exact, prefix, fuzzy) and words.

The journal is written in the same transaction as every change to a hosted index, whichever
process makes it (a server worker, ``stilton import``); the index follows it from a high-water
mark kept in ``meta``, so it misses nothing, and catching up twice does no harm.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, text

from stilton.core.names import IndexName, ProjectName
from stilton.core.versions import version_sort_key
from stilton.storage import upstream_cache
from stilton.storage.catalog import IndexRecord, get_meta, set_meta
from stilton.storage.schema import files, indexes, journal, projects, releases, search_docs
from stilton.storage.upserts import conflict_insert

MARK_KEY = "search-journal-id"  # the last journal id the search index has followed
BATCH = 500  # journal rows per transaction
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
FUZZY_CANDIDATES = 200
FUZZY_CUTOFF = 0.6
FUZZY_TRIGRAMS = 6  # the rarest trigrams of a query that pick fuzzy candidates (SQLite)


@dataclass(frozen=True, slots=True)
class SearchDoc:
    index: IndexName
    name: ProjectName
    display_name: str
    summary: str | None
    version: str | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    doc: SearchDoc
    match: str  # "name", "prefix", "words" or "fuzzy"


def _doc(row: Row[Any]) -> SearchDoc:
    return SearchDoc(
        IndexName(row.index_name),
        ProjectName(row.name),
        row.display_name,
        row.summary,
        row.version,
        row.updated_at,
    )


def _is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


# -- keeping it up to date ---------------------------------------------------------------------


def put_doc(connection: Connection, doc: SearchDoc) -> None:
    values = {
        "display_name": doc.display_name,
        "summary": doc.summary,
        "version": doc.version,
        "updated_at": doc.updated_at,
    }
    statement = conflict_insert(connection, search_docs).values(
        index_name=doc.index, name=doc.name, **values
    )
    connection.execute(
        statement.on_conflict_do_update(index_elements=["index_name", "name"], set_=values)
    )
    if _is_sqlite(connection):
        doc_id = connection.execute(
            select(search_docs.c.id).where(
                search_docs.c.index_name == doc.index, search_docs.c.name == doc.name
            )
        ).scalar_one()
        _forget_words(connection, [doc_id])
        words = " ".join(x for x in (doc.name, doc.display_name, doc.summary) if x)
        connection.execute(
            text("INSERT INTO search_words (rowid, words) VALUES (:id, :words)"),
            {"id": doc_id, "words": words},
        )
        connection.execute(
            text("INSERT INTO search_trigrams (rowid, name) VALUES (:id, :name)"),
            {"id": doc_id, "name": doc.name},
        )


def _forget_words(connection: Connection, ids: Sequence[int]) -> None:
    for table in ("search_words", "search_trigrams"):
        for doc_id in ids:
            connection.execute(text(f"DELETE FROM {table} WHERE rowid = :id"), {"id": doc_id})  # noqa: S608


def drop_docs(connection: Connection, index: str, names: Collection[str]) -> None:
    if not names:
        return
    where = (search_docs.c.index_name == index) & search_docs.c.name.in_(list(names))
    if _is_sqlite(connection):
        _forget_words(
            connection, connection.execute(select(search_docs.c.id).where(where)).scalars().all()
        )
    connection.execute(delete(search_docs).where(where))


def hosted_doc(connection: Connection, index_id: int, index: str, name: str) -> SearchDoc | None:
    """A hosted project as the search index shows it, or None when it has no live file."""
    rows = connection.execute(
        select(
            projects.c.display_name, releases.c.version, releases.c.metadata, files.c.upload_time
        )
        .join(files, files.c.project_id == projects.c.id)
        .join(releases, releases.c.id == files.c.release_id)
        .where(
            projects.c.index_id == index_id,
            projects.c.name == name,
            files.c.deleted_at.is_(None),
        )
    ).all()
    if not rows:
        return None
    latest = max(rows, key=lambda r: version_sort_key(r.version))
    summary = (latest.metadata or {}).get("summary")
    return SearchDoc(
        IndexName(index),
        ProjectName(name),
        rows[0].display_name,
        str(summary) if summary else None,
        latest.version,
        max(r.upload_time for r in rows),
    )


def catch_up(connection: Connection) -> int:
    """Follow the journal past the mark, one batch; returns how many entries were read."""
    mark = int(get_meta(connection, MARK_KEY) or 0)
    entries = connection.execute(
        select(journal.c.id, journal.c.index_id, journal.c.project, indexes.c.name)
        .join(indexes, indexes.c.id == journal.c.index_id)
        .where(journal.c.id > mark)
        .order_by(journal.c.id)
        .limit(BATCH)
    ).all()
    for index_id, index, project in {(e.index_id, e.name, e.project) for e in entries}:
        doc = hosted_doc(connection, index_id, index, project)
        if doc is None:
            drop_docs(connection, index, [project])
        else:
            put_doc(connection, doc)
    if entries:
        set_meta(connection, MARK_KEY, str(entries[-1].id))
    return len(entries)


def behind(connection: Connection) -> bool:
    """Whether the journal has entries the search index has not followed (a cheap look)."""
    newest = connection.execute(select(func.max(journal.c.id))).scalar() or 0
    return int(newest) > int(get_meta(connection, MARK_KEY) or 0)


def proxy_changes(
    connection: Connection, index: IndexRecord
) -> tuple[set[ProjectName], set[ProjectName]]:
    """A proxy's projects are those whose pages it keeps: the names to add to its search
    documents, and those to drop (a read; ``sync_proxy`` writes them)."""
    pages = {name for name, _serial in upstream_cache.list_pages(connection, index)}
    known = {
        ProjectName(name)
        for name in connection.execute(
            select(search_docs.c.name).where(search_docs.c.index_name == index.name)
        ).scalars()
    }
    return pages - known, known - pages


def sync_proxy(
    connection: Connection,
    index: IndexName,
    added: set[ProjectName],
    dropped: set[ProjectName],
) -> None:
    """Summaries are learnt when a project's page is shown."""
    for name in sorted(added):
        put_doc(connection, SearchDoc(index, name, name, None, None, None))
    drop_docs(connection, index, dropped)


def find_doc(connection: Connection, index: str, name: str) -> SearchDoc | None:
    row = connection.execute(
        select(search_docs).where(search_docs.c.index_name == index, search_docs.c.name == name)
    ).first()
    return _doc(row) if row else None


# -- reading -----------------------------------------------------------------------------------


def docs_of(connection: Connection, index_names: Collection[str]) -> list[SearchDoc]:
    """Every doc of these indexes (for an index page's sorting and summaries)."""
    rows = connection.execute(
        select(search_docs).where(search_docs.c.index_name.in_(list(index_names)))
    )
    return [_doc(row) for row in rows]


def normalized_query(query: str) -> str:
    return re.sub(r"[-_.\s]+", "-", query.strip().lower()).strip("-")


def _by_name(connection: Connection, name: str, within: list[str], limit: int) -> list[SearchHit]:
    exact = connection.execute(
        select(search_docs).where(search_docs.c.name == name, search_docs.c.index_name.in_(within))
    ).all()
    upper = name[:-1] + chr(ord(name[-1]) + 1)
    prefix = connection.execute(
        select(search_docs)
        .where(
            search_docs.c.name > name,
            search_docs.c.name < upper,
            search_docs.c.index_name.in_(within),
        )
        .order_by(func.length(search_docs.c.name), search_docs.c.name)
        .limit(limit)
    ).all()
    return [SearchHit(_doc(r), "name") for r in exact] + [
        SearchHit(_doc(r), "prefix") for r in prefix
    ]


def _fts_rows(
    connection: Connection, sql: str, match: str, within: list[str], limit: int
) -> list[Row[Any]]:
    """Rows of ``search_docs`` whose FTS5 entry in a table matches, best first."""
    names = ", ".join(f":i{n}" for n in range(len(within)))
    statement = text(
        f"SELECT d.* FROM {sql} AS f JOIN search_docs AS d ON d.id = f.rowid"  # noqa: S608
        f" WHERE {sql} MATCH :match AND d.index_name IN ({names})"
        " ORDER BY f.rank LIMIT :limit"
    )
    params: dict[str, Any] = {"match": match, "limit": limit}
    params.update({f"i{n}": name for n, name in enumerate(within)})
    return list(connection.execute(statement, params))


def _by_words(connection: Connection, query: str, within: list[str], limit: int) -> list[SearchHit]:
    words = _WORD.findall(query.lower())
    if not words:
        return []
    if _is_sqlite(connection):
        match = " AND ".join(f'"{word}"*' for word in words)
        rows = _fts_rows(connection, "search_words", match, within, limit)
    else:
        document = func.to_tsvector(
            "simple",
            func.replace(search_docs.c.name, "-", " ")
            + " "
            + func.coalesce(search_docs.c.summary, ""),
        )
        tsquery = func.to_tsquery("simple", " & ".join(f"{word}:*" for word in words))
        rows = list(
            connection.execute(
                select(search_docs)
                .where(document.bool_op("@@")(tsquery), search_docs.c.index_name.in_(within))
                .order_by(func.ts_rank(document, tsquery).desc())
                .limit(limit)
            )
        )
    return [SearchHit(_doc(r), "words") for r in rows]


def _by_fuzzy_name(
    connection: Connection, name: str, within: list[str], limit: int
) -> list[SearchHit]:
    if len(name) < 3:
        return []
    if _is_sqlite(connection):
        grams = _rarest_trigrams(connection, {name[i : i + 3] for i in range(len(name) - 2)})
        if not grams:
            return []
        match = " OR ".join(f'"{gram}"' for gram in grams)
        rows = _fts_rows(connection, "search_trigrams", match, within, FUZZY_CANDIDATES)
    else:
        rows = _pg_similar(connection, name, within)
    scored = [(difflib.SequenceMatcher(None, name, r.name).ratio(), r) for r in rows]
    scored = [(score, r) for score, r in scored if score >= FUZZY_CUTOFF]
    scored.sort(key=lambda pair: -pair[0])
    return [SearchHit(_doc(r), "fuzzy") for _score, r in scored[:limit]]


def _rarest_trigrams(connection: Connection, grams: set[str]) -> list[str]:
    """The query's trigrams that some name has, rarest first, at most ``FUZZY_TRIGRAMS``: a
    common one ("pkg", "py-") matches most names, and ranking them all is the costly part (with
    50,000 names: 117 ms with every trigram, 34 ms with the six rarest)."""
    connection.execute(
        text(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_trigram_counts"
            " USING fts5vocab(main, search_trigrams, row)"
        )
    )
    usable = sorted(gram for gram in grams if '"' not in gram)
    if not usable:
        return []
    names = ", ".join(f":g{n}" for n in range(len(usable)))
    counts: dict[str, int] = dict(
        connection.execute(
            text(f"SELECT term, doc FROM temp.search_trigram_counts WHERE term IN ({names})"),  # noqa: S608
            {f"g{n}": gram for n, gram in enumerate(usable)},
        ).all()
    )
    return sorted(counts, key=lambda gram: (counts[gram], gram))[:FUZZY_TRIGRAMS]


def _pg_similar(connection: Connection, name: str, within: list[str]) -> list[Row[Any]]:
    installed = connection.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
    ).first()
    if installed is None:
        return []
    return list(
        connection.execute(
            select(search_docs)
            .where(search_docs.c.name.bool_op("%")(name), search_docs.c.index_name.in_(within))
            .order_by(func.similarity(search_docs.c.name, name).desc())
            .limit(FUZZY_CANDIDATES)
        )
    )


def search(
    connection: Connection, query: str, within: Collection[str], limit: int = 50
) -> list[SearchHit]:
    """Projects of the indexes ``within``: the exact name, names it begins, names and summaries
    with its words (as prefixes), then names like it; each project of an index once."""
    name = normalized_query(query)
    indexes_within = sorted(within)
    if not name or not indexes_within:
        return []
    found: dict[tuple[str, str], SearchHit] = {}
    for step in (_by_name, _by_words, _by_fuzzy_name):
        if step is _by_fuzzy_name and any(h.match in ("name", "prefix") for h in found.values()):
            break  # names like it are for a name not found (and cost the most)
        argument = query if step is _by_words else name
        for hit in step(connection, argument, indexes_within, limit):
            found.setdefault((hit.doc.index, hit.doc.name), hit)
        if len(found) >= limit:
            break
    return list(found.values())[:limit]
