"""The "Use this index" snippets: how each client is pointed at an index, with the server's real
address, for installs from any index and uploads to hosted ones only (PROTOCOLS.md §4).

Commands read a token from ``$STILTON_TOKEN``; files, which cannot expand variables for every
client, hold ``PASTE-YOUR-TOKEN`` where the token goes. Tests run every snippet as it is shown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

TOKEN_VARIABLE = "STILTON_TOKEN"  # noqa: S105 - the name of a variable, not a secret
TOKEN_PLACEHOLDER = "PASTE-YOUR-TOKEN"  # noqa: S105 - a placeholder, not a secret
TOKEN_USER = "__token__"  # noqa: S105 - the conventional username
PACKAGE_PLACEHOLDER = "PACKAGE"


class SnippetKind(StrEnum):
    INSTALL = "install"
    PUBLISH = "publish"


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str  # stable: "pip-command", "twine-pypirc" ...
    tool: str
    title: str
    text: str
    kind: SnippetKind
    where: str | None = None  # the file it goes in, if any


@dataclass(frozen=True, slots=True)
class Target:
    """An index as clients reach it."""

    base_url: str  # scheme://host[:port] plus any root path, no trailing slash
    index: str
    hosted: bool
    private: bool  # reading needs credentials
    package: str = PACKAGE_PLACEHOLDER

    @property
    def simple_url(self) -> str:
        return f"{self.base_url}/{self.index}/simple/"

    @property
    def upload_url(self) -> str:
        return f"{self.base_url}/{self.index}/"

    @property
    def source(self) -> str:
        """The name a client's configuration gives the index."""
        return f"stilton-{self.index}"

    @property
    def env_name(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.source).upper()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def insecure(self) -> bool:
        """Plain http to a host pip does not count as secure (pip ignores such an index unless
        it is a trusted host; loopback is always secure)."""
        return urlsplit(self.base_url).scheme == "http" and not _loopback(self.host)

    def credentialed_url(self, secret: str) -> str:
        parts = urlsplit(self.simple_url)
        return f"{parts.scheme}://{TOKEN_USER}:{secret}@{parts.netloc}{parts.path}"

    def reading_url(self, secret: str) -> str:
        return self.credentialed_url(secret) if self.private else self.simple_url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pip(t: Target) -> list[Snippet]:
    trusted = f" --trusted-host {t.host}" if t.insecure else ""
    conf = f"[global]\nindex-url = {t.reading_url(TOKEN_PLACEHOLDER)}\n"
    if t.insecure:
        conf += f"trusted-host = {t.host}\n"
    url = t.reading_url(f"${TOKEN_VARIABLE}")
    return [
        Snippet(
            "pip-command",
            "pip",
            "Command line",
            f'pip install --index-url "{url}"{trusted} {t.package}',
            SnippetKind.INSTALL,
        ),
        Snippet("pip-conf", "pip", "Configuration", conf, SnippetKind.INSTALL, "pip.conf"),
    ]


def _uv_index(t: Target, table: str) -> str:
    return f'[[{table}]]\nname = "{t.source}"\nurl = "{t.simple_url}"\ndefault = true\n'


def _uv_credentials(t: Target) -> list[Snippet]:
    """uv takes a named index's credentials from the environment (PROTOCOLS.md §4.3)."""
    if not t.private:
        return []
    text = (
        f"export UV_INDEX_{t.env_name}_USERNAME={TOKEN_USER}\n"
        f'export UV_INDEX_{t.env_name}_PASSWORD="${TOKEN_VARIABLE}"\n'
    )
    return [Snippet("uv-credentials", "uv", "Credentials", text, SnippetKind.INSTALL)]


def _uv(t: Target) -> list[Snippet]:
    url = t.reading_url(f"${TOKEN_VARIABLE}")
    return [
        Snippet(
            "uv-command",
            "uv",
            "Command line",
            f'uv pip install --index-url "{url}" {t.package}',
            SnippetKind.INSTALL,
        ),
        Snippet(
            "uv-pyproject",
            "uv",
            "Project (pyproject.toml)",
            _uv_index(t, "tool.uv.index"),
            SnippetKind.INSTALL,
            "pyproject.toml",
        ),
        Snippet(
            "uv-toml",
            "uv",
            "uv.toml",
            _uv_index(t, "index"),
            SnippetKind.INSTALL,
            "uv.toml",
        ),
        *_uv_credentials(t),
        Snippet(
            "uv-env",
            "uv",
            "Environment",
            f'export UV_DEFAULT_INDEX="{url}"\nuv pip install {t.package}\n',
            SnippetKind.INSTALL,
        ),
    ]


def _poetry(t: Target) -> list[Snippet]:
    text = f"poetry source add --priority=primary {t.source} {t.simple_url}\n"
    if t.private:
        text += f'poetry config http-basic.{t.source} {TOKEN_USER} "${TOKEN_VARIABLE}"\n'
    text += f"poetry add {t.package}\n"
    return [Snippet("poetry-source", "poetry", "Project source", text, SnippetKind.INSTALL)]


def _pdm(t: Target) -> list[Snippet]:
    # pdm expands ${VARIABLES} in a source's URL (PROTOCOLS.md §4.5).
    text = (
        "# named pypi, it replaces the public index\n"
        f'[[tool.pdm.source]]\nname = "pypi"\nurl = "{t.reading_url(f"${{{TOKEN_VARIABLE}}}")}"\n'
        f"verify_ssl = {'false' if t.insecure else 'true'}\n"
    )
    return [
        Snippet("pdm-source", "pdm", "Project source", text, SnippetKind.INSTALL, "pyproject.toml")
    ]


def _pipenv(t: Target) -> list[Snippet]:
    url = t.reading_url(f"${{{TOKEN_VARIABLE}}}")
    verify = "false" if urlsplit(t.base_url).scheme == "http" else "true"
    text = f'[[source]]\nname = "{t.source}"\nurl = "{url}"\nverify_ssl = {verify}\n'
    return [
        Snippet("pipenv-source", "pipenv", "Pipfile source", text, SnippetKind.INSTALL, "Pipfile")
    ]


def _publishers(t: Target) -> list[Snippet]:
    pypirc = (
        "[distutils]\nindex-servers =\n    stilton\n\n"
        f"[stilton]\nrepository = {t.upload_url}\n"
        f"username = {TOKEN_USER}\npassword = {TOKEN_PLACEHOLDER}\n"
    )
    token = f'"${TOKEN_VARIABLE}"'
    poetry = (
        f"poetry config repositories.{t.source} {t.upload_url}\n"
        f"poetry publish --build --repository {t.source} --username {TOKEN_USER}"
        f" --password {token}\n"
    )
    flit = (
        f"FLIT_INDEX_URL={t.upload_url} FLIT_USERNAME={TOKEN_USER} FLIT_PASSWORD={token}"
        " flit publish"
    )
    return [
        Snippet("twine-pypirc", "twine", "~/.pypirc", pypirc, SnippetKind.PUBLISH, "~/.pypirc"),
        Snippet(
            "twine-command", "twine", "Upload", "twine upload --repository stilton dist/*",
            SnippetKind.PUBLISH,
        ),
        Snippet(
            "uv-publish", "uv", "uv publish",
            f"uv publish --publish-url {t.upload_url} --token {token}", SnippetKind.PUBLISH,
        ),
        Snippet("poetry-publish", "poetry", "poetry publish", poetry, SnippetKind.PUBLISH),
        Snippet(
            "hatch-publish", "hatch", "hatch publish",
            f"hatch publish --repo {t.upload_url} --user {TOKEN_USER} --auth {token}",
            SnippetKind.PUBLISH,
        ),
        Snippet("flit-publish", "flit", "flit publish", flit, SnippetKind.PUBLISH),
    ]  # fmt: skip


INSTALLERS: tuple[Callable[[Target], list[Snippet]], ...] = (_pip, _uv, _poetry, _pdm, _pipenv)


def snippets_for(target: Target) -> list[Snippet]:
    """Install snippets for every index; upload snippets only where uploads are taken."""
    found = [snippet for make in INSTALLERS for snippet in make(target)]
    if target.hosted:
        found += _publishers(target)
    return found
