"""The legacy upload form (PROTOCOLS.md §3.1): the fields twine, uv, poetry, pdm, flit and hatch
send are accepted, each bad field is refused with PyPI's wording, and metadata is mapped."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from stilton.core.errors import Gone, InvalidInput, StiltonError
from stilton.core.filenames import DistributionFilename, PackageType, parse_distribution_filename
from stilton.core.model import Digests
from stilton.core.upload_form import (
    Fields,
    SentDigests,
    form_metadata,
    parse_upload_form,
)

WHEEL = parse_distribution_filename("holygrail-1.0-py3-none-any.whl")
SDIST = parse_distribution_filename("holygrail-1.0.tar.gz")
MD5 = hashlib.md5(b"file").hexdigest()
SHA256 = hashlib.sha256(b"file").hexdigest()
BLAKE2 = hashlib.blake2b(b"file", digest_size=32).hexdigest()
ACTUAL = Digests(sha256=SHA256, blake2b_256=BLAKE2, md5=MD5)


def _fields(**values: str | Sequence[str] | None) -> Fields:
    """Form fields from keyword arguments; ``action`` is ``:action``, None leaves a field out."""
    renamed = {(":action" if key == "action" else key): value for key, value in values.items()}
    return {
        key: [value] if isinstance(value, str) else list(value)
        for key, value in renamed.items()
        if value is not None
    }


def _twine(**changes: str | Sequence[str] | None) -> Fields:
    """A wheel upload as twine 7 sends it (no md5), with ``changes`` applied."""
    values: dict[str, str | Sequence[str] | None] = {
        "action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.4",
        "name": "HolyGrail",
        "version": "1.0",
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "sha256_digest": SHA256,
        "blake2_256_digest": BLAKE2,
        "summary": "Find it",
    }
    values.update(changes)
    return _fields(**values)


# What each uploader sends (PROTOCOLS.md §3.1).
CLIENTS: list[tuple[str, DistributionFilename, Fields]] = [
    (
        "twine",
        WHEEL,
        _twine(
            requires_dist=["spam>=2", "eggs; extra == 'breakfast'"],
            classifiers=["Programming Language :: Python :: 3"],
            comment="uploaded by twine",
        ),
    ),
    (
        "uv",
        WHEEL,
        _twine(
            requires_python="", metadata_version="2.3", description_content_type="text/markdown"
        ),
    ),
    (
        "poetry",
        WHEEL,
        _twine(md5_digest=MD5, metadata_version="2.3", requires_python=">=3.8,<4"),
    ),
    (
        "pdm",
        WHEEL,
        _twine(
            md5_digest=MD5,
            metadata_version="2.1",
            provides_extras=["breakfast"],
            requires_python=[">=3.8", ">=3.8"],
        ),
    ),
    (
        "flit",
        SDIST,
        _fields(
            action="file_upload",
            protocol_version="1",
            metadata_version="2.3",
            name="holygrail",
            version="1.0",
            filetype="sdist",
            md5_digest=MD5,
            sha256_digest=SHA256,
        ),
    ),
    (
        "hatch",
        SDIST,
        _twine(md5_digest=MD5, filetype="sdist", pyversion="source", license_expression="MIT"),
    ),
]

# (client, filetype, pyversion, md5 sent, blake2 sent)
CLIENT_RESULTS = {
    "twine": (PackageType.WHEEL, "py3", False, True),
    "uv": (PackageType.WHEEL, "py3", False, True),
    "poetry": (PackageType.WHEEL, "py3", True, True),
    "pdm": (PackageType.WHEEL, "py3", True, True),
    "flit": (PackageType.SDIST, "source", True, False),
    "hatch": (PackageType.SDIST, "source", True, True),
}


@pytest.mark.parametrize(("client", "dist", "fields"), CLIENTS, ids=[c[0] for c in CLIENTS])
def test_every_uploader_is_accepted(
    client: str, dist: DistributionFilename, fields: Fields
) -> None:
    form = parse_upload_form(fields, dist)
    filetype, pyversion, sends_md5, sends_blake2 = CLIENT_RESULTS[client]
    assert (form.filetype, form.pyversion) == (filetype, pyversion)
    assert form.version == "1.0"
    assert form.digests == SentDigests(
        md5=MD5 if sends_md5 else None,
        sha256=SHA256,
        blake2_256=BLAKE2 if sends_blake2 else None,
    )
    assert form.digests.mismatches(ACTUAL) == []
    assert form.metadata == form_metadata(fields)


def test_uv_empty_requires_python_is_absent() -> None:
    form = parse_upload_form(_twine(requires_python=""), WHEEL)
    assert "requires_python" not in form.metadata


def test_pdm_plural_provides_extras_is_read() -> None:
    fields = _twine(provides_extras=["breakfast", "lunch"], requires_python=[">=3.8", ">=3.8"])
    form = parse_upload_form(fields, WHEEL)
    assert form.metadata.get("provides_extra") == ["breakfast", "lunch"]
    assert form.metadata.get("requires_python") == ">=3.8"


def test_twine_fields_reach_the_form() -> None:
    form = parse_upload_form(_twine(comment="  hello  ", requires_dist=["spam>=2"]), WHEEL)
    assert (form.name, form.metadata_version, form.comment) == ("HolyGrail", "2.4", "hello")
    assert form.metadata.get("requires_dist") == ["spam>=2"]


@pytest.mark.parametrize(
    ("changes", "dist", "filetype", "pyversion"),
    [
        # Missing filetype and pyversion come from the filename.
        ({"filetype": None, "pyversion": None}, WHEEL, PackageType.WHEEL, "py3"),
        ({"filetype": None, "pyversion": None}, SDIST, PackageType.SDIST, "source"),
        ({"filetype": "sdist", "pyversion": "source"}, SDIST, PackageType.SDIST, "source"),
        ({"pyversion": "py2.py3"}, WHEEL, PackageType.WHEEL, "py2.py3"),
        ({"pyversion": "UNKNOWN", "filetype": "sdist"}, SDIST, PackageType.SDIST, "source"),
    ],
)
def test_filetype_and_pyversion_default_from_the_filename(
    changes: dict[str, str | None],
    dist: DistributionFilename,
    filetype: PackageType,
    pyversion: str,
) -> None:
    form = parse_upload_form(_twine(**changes), dist)
    assert (form.filetype, form.pyversion) == (filetype, pyversion)


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("holygrail", "1.0"),
        ("HOLYGRAIL", "1.0"),
        ("HolyGrail", "1.0.0"),
        ("HolyGrail", "v1.0"),
        ("HolyGrail", "  1.0  "),
    ],
)
def test_equivalent_names_and_versions_are_accepted(name: str, version: str) -> None:
    parse_upload_form(_twine(name=name, version=version), WHEEL)


@pytest.mark.parametrize("name", ["foo_bar", "Foo.Bar", "FOO-bar", "foo-bar"])
def test_name_is_compared_normalized(name: str) -> None:
    dist = parse_distribution_filename("foo_bar-1.0-py3-none-any.whl")
    assert parse_upload_form(_twine(name=name), dist).name == name


def test_digests_are_lowercased() -> None:
    form = parse_upload_form(_twine(sha256_digest=SHA256.upper(), md5_digest=MD5.upper()), WHEEL)
    assert (form.digests.sha256, form.digests.md5) == (SHA256, MD5)


# (changes to twine's wheel fields, dist, error type, message fragment)
REJECTIONS: list[
    tuple[dict[str, str | Sequence[str] | None], DistributionFilename, type[StiltonError], str]
] = [
    ({"action": None}, WHEEL, InvalidInput, "Unknown or missing :action"),
    ({"action": ""}, WHEEL, InvalidInput, "Unknown or missing :action"),
    ({"action": "frobnicate"}, WHEEL, InvalidInput, "Unknown or missing :action"),
    ({"action": "doc_upload"}, WHEEL, Gone, "doc_upload"),
    ({"action": "submit"}, WHEEL, Gone, "submit"),
    ({"action": "submit_pkg_info"}, WHEEL, Gone, "submit_pkg_info"),
    ({"protocol_version": "2"}, WHEEL, InvalidInput, "Unknown protocol version"),
    ({"protocol_version": "0"}, WHEEL, InvalidInput, "Unknown protocol version"),
    ({"sha256_digest": None, "blake2_256_digest": None}, WHEEL, InvalidInput, "at least one"),
    ({"sha256_digest": "", "blake2_256_digest": ""}, WHEEL, InvalidInput, "at least one"),
    ({"sha256_digest": "xyz"}, WHEEL, InvalidInput, "Invalid value for sha256_digest"),
    ({"sha256_digest": SHA256[:-1]}, WHEEL, InvalidInput, "Invalid value for sha256_digest"),
    ({"sha256_digest": SHA256 + "0"}, WHEEL, InvalidInput, "Invalid value for sha256_digest"),
    ({"sha256_digest": "g" * 64}, WHEEL, InvalidInput, "Invalid value for sha256_digest"),
    ({"blake2_256_digest": MD5}, WHEEL, InvalidInput, "Invalid value for blake2_256_digest"),
    ({"md5_digest": SHA256}, WHEEL, InvalidInput, "Invalid value for md5_digest"),
    ({"md5_digest": "1B2M2Y8AsgTpgAmY7PhCfg=="}, WHEEL, InvalidInput, "Invalid value for md5"),
    ({"name": None}, WHEEL, InvalidInput, "Missing required form field 'name'"),
    ({"name": "UNKNOWN"}, WHEEL, InvalidInput, "Missing required form field 'name'"),
    ({"version": None}, WHEEL, InvalidInput, "Missing required form field 'version'"),
    ({"metadata_version": ""}, WHEEL, InvalidInput, "'metadata_version'"),
    ({"metadata_version": "garbage"}, WHEEL, InvalidInput, "'garbage' is an invalid value for"),
    ({"metadata_version": "99.0"}, WHEEL, InvalidInput, "invalid value for Metadata-Version"),
    ({"metadata_version": "2.6"}, WHEEL, InvalidInput, "use one of 1.0, 1.1, 1.2, 2.0, 2.1"),
    ({"name": "Shrubbery"}, WHEEL, InvalidInput, "Start filename for 'Shrubbery'"),
    ({"version": "1.1"}, WHEEL, InvalidInput, "does not match the filename"),
    ({"version": "1.0.post1"}, WHEEL, InvalidInput, "does not match the filename"),
    ({"version": "1.0-banana!"}, WHEEL, InvalidInput, "invalid value for Version"),
    ({"filetype": "sdist", "pyversion": "py3"}, SDIST, InvalidInput, "Use 'source'"),
    ({"filetype": "sdist"}, WHEEL, InvalidInput, "does not match"),
    ({"filetype": "bdist_wheel", "pyversion": "source"}, SDIST, InvalidInput, "does not match"),
    ({"filetype": "bdist_egg"}, WHEEL, InvalidInput, "invalid value for Filetype"),
    ({"requires_python": "=>3.8"}, WHEEL, InvalidInput, "invalid value for Requires-Python"),
    ({"requires_python": "python3"}, WHEEL, InvalidInput, "invalid value for Requires-Python"),
]


@pytest.mark.parametrize(("changes", "dist", "error", "message"), REJECTIONS)
def test_bad_upload_forms_are_refused(
    changes: dict[str, str | Sequence[str] | None],
    dist: DistributionFilename,
    error: type[StiltonError],
    message: str,
) -> None:
    with pytest.raises(error) as raised:
        parse_upload_form(_twine(**changes), dist)
    assert type(raised.value) is error
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "1.0\r\nX-Injected: yes"),
        ("version", "1.0\u2028forged line"),
        ("requires_python", ">=3.8\r\nX-Injected: yes"),
    ],
)
def test_a_refused_value_is_shown_escaped_on_one_line(field: str, value: str) -> None:
    """The value comes from the client; a client prints the refusal, so it must not forge lines."""
    with pytest.raises(InvalidInput) as raised:
        parse_upload_form(_twine(**{field: value}), WHEEL)
    message = str(raised.value)
    assert repr(value) in message, message
    assert message.isprintable(), message


X = "f" * 64


@pytest.mark.parametrize(
    ("sent", "mismatches"),
    [
        (SentDigests(MD5, SHA256, BLAKE2), []),
        (SentDigests(None, SHA256, None), []),
        (SentDigests(None, None, BLAKE2), []),
        (SentDigests(MD5, None, None), []),
        (SentDigests(None, X, None), ["sha256"]),
        (SentDigests(None, SHA256, X), ["blake2_256"]),
        (SentDigests("0" * 32, SHA256, BLAKE2), ["md5"]),
        (SentDigests("0" * 32, X, X), ["md5", "sha256", "blake2_256"]),
        # blake2 sent in the sha256 field and vice versa.
        (SentDigests(None, BLAKE2, SHA256), ["sha256", "blake2_256"]),
    ],
)
def test_sent_digests_name_every_mismatch(sent: SentDigests, mismatches: list[str]) -> None:
    assert sent.mismatches(ACTUAL) == mismatches


def test_form_metadata_maps_fields() -> None:
    raw = form_metadata(
        _fields(
            metadata_version="2.4",
            name="HolyGrail",
            version="1.0",
            summary="Find it",
            keywords="quest, grail,,knights ",
            project_urls=[
                "Homepage, https://grail.example",
                "Bug Tracker,https://grail.example/issues?a=1,2",
                "no comma here",
            ],
            classifiers=["Programming Language :: Python :: 3", "License :: OSI Approved"],
            requires_dist=["", "spam>=2"],
            license_file=["LICENSE"],
            license_files=["NOTICE"],
            provides_extra=["breakfast"],
            provides_extras=["lunch"],
            platform=["linux"],
            author="",
            misspelled_field="ignored",
        )
    )
    assert raw == {
        "metadata_version": "2.4",
        "name": "HolyGrail",
        "version": "1.0",
        "summary": "Find it",
        "keywords": ["quest", "grail", "knights"],
        "project_urls": {
            "Homepage": "https://grail.example",
            "Bug Tracker": "https://grail.example/issues?a=1,2",
        },
        "classifiers": ["Programming Language :: Python :: 3", "License :: OSI Approved"],
        "requires_dist": ["spam>=2"],
        "license_files": ["LICENSE", "NOTICE"],
        "provides_extra": ["breakfast", "lunch"],
        "platforms": ["linux"],
    }


@pytest.mark.parametrize(
    "field", ["summary", "description", "home_page", "download_url", "license", "keywords"]
)
def test_form_metadata_drops_single_unknown_values(field: str) -> None:
    raw = form_metadata(_fields(metadata_version="1.0", **{field: "UNKNOWN"}))
    assert field not in raw


@pytest.mark.parametrize("field", ["platform", "supported_platform"])
def test_form_metadata_drops_unknown_in_multi_valued_fields(field: str) -> None:
    raw = form_metadata(_fields(metadata_version="1.0", **{field: ["UNKNOWN"]}))
    assert set(raw) == {"metadata_version"}


# Every single-valued field the server reads, with two values that contradict each other.
CONTRADICTIONS: list[tuple[str, str, str]] = [
    ("action", "file_upload", "doc_upload"),
    ("protocol_version", "1", "2"),
    ("name", "HolyGrail", "Shrubbery"),
    ("version", "1.0", "2.0"),
    ("metadata_version", "2.4", "2.1"),
    ("filetype", "bdist_wheel", "sdist"),
    ("pyversion", "py3", "cp312"),
    ("sha256_digest", SHA256, "f" * 64),
    ("blake2_256_digest", BLAKE2, "f" * 64),
    ("md5_digest", MD5, "f" * 32),
    ("requires_python", ">=3.8", ">=3.9"),
    ("summary", "Find it", "Lose it"),
    ("keywords", "quest", "grail"),
    ("comment", "one", "two"),
]


@pytest.mark.parametrize(("field", "first", "second"), CONTRADICTIONS)
def test_a_single_valued_field_sent_twice_with_different_values_is_refused(
    field: str, first: str, second: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_upload_form(_twine(**{field: [first, second]}), WHEEL)
    wire_name = ":action" if field == "action" else field
    assert f"Form field {wire_name!r} was sent 2 times with different values" in str(raised.value)
    assert "Send it once" in str(raised.value)


def test_a_long_contradictory_value_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_upload_form(_twine(summary=["x" * 10_000, "y"]), WHEEL)
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize(("field", "value", "_other"), CONTRADICTIONS)
def test_a_field_repeated_with_the_same_value_is_accepted(
    field: str, value: str, _other: str
) -> None:
    # pdm may send requires_python twice; "UNKNOWN" and empty repeats count as absent.
    form = parse_upload_form(_twine(**{field: [value, f" {value} ", "", "UNKNOWN"]}), WHEEL)
    assert form.name == "HolyGrail"


def test_multi_valued_fields_stay_multi_valued() -> None:
    fields = _twine(
        classifiers=["Framework :: Flask", "Topic :: Games"],
        requires_dist=["idna>=2", "spam; extra == 'eggs'"],
        provides_extra=["eggs", "ham"],
        dynamic=["Requires-Dist", "Summary"],
        project_urls=["Home, https://a.example", "Docs, https://b.example"],
    )
    metadata = parse_upload_form(fields, WHEEL).metadata
    assert metadata["classifiers"] == ["Framework :: Flask", "Topic :: Games"]
    assert metadata["requires_dist"] == ["idna>=2", "spam; extra == 'eggs'"]
    assert metadata["provides_extra"] == ["eggs", "ham"]
    assert metadata["dynamic"] == ["Requires-Dist", "Summary"]
    assert metadata["project_urls"] == {"Home": "https://a.example", "Docs": "https://b.example"}
