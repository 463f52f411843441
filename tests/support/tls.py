"""A throw-away certificate authority for TLS tests: a CA, a server certificate for
127.0.0.1/localhost and client certificates, all short-lived PEM files made by the ``openssl``
command line (the ``cryptography`` package is not a dependency of the project).

Certificates carry the extensions strict verifiers insist on (subject and authority key
identifiers, key usage, extended key usage, SANs), so OpenSSL, rustls (uv, Granian) and Python's
``ssl`` all accept them. Nothing here imports pytest.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path

VALID_DAYS = 2
# P-256 keys: small, fast to make, and accepted by every TLS stack the clients use.
KEY_OPTIONS = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
SERVER_HOSTS = ("127.0.0.1", "localhost")


class TlsError(RuntimeError):
    """``openssl`` failed; the message carries the command and its output."""

    def __init__(self, argv: Sequence[str], output: str) -> None:
        super().__init__(" ".join(argv))
        self.argv = tuple(argv)
        self.output = output

    def __str__(self) -> str:
        return f"{' '.join(self.argv)} failed\n{self.output}"


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path

    @property
    def combined(self) -> Path:
        """One PEM file holding the key and then the certificate (pip's ``--client-cert``,
        poetry's ``client-cert``, twine's ``--client-cert``)."""
        path = self.cert.with_name(self.cert.stem + "-combined.pem")
        if not path.exists():
            path.write_bytes(self.key.read_bytes() + self.cert.read_bytes())
        return path


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A self-signed CA that issues server and client certificates into ``directory``."""

    directory: Path
    pair: KeyPair

    @property
    def cert(self) -> Path:
        return self.pair.cert

    @classmethod
    def create(cls, directory: Path, name: str = "Stilton Test CA") -> CertificateAuthority:
        directory.mkdir(parents=True, exist_ok=True)
        slug = _slug(name)
        pair = KeyPair(directory / f"{slug}.pem", directory / f"{slug}-key.pem")
        _openssl(
            "req",
            "-x509",
            *KEY_OPTIONS,
            "-keyout",
            str(pair.key),
            "-out",
            str(pair.cert),
            "-days",
            str(VALID_DAYS),
            "-subj",
            f"/CN={name}",
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            "subjectKeyIdentifier=hash",
        )
        return cls(directory, pair)

    def issue_server(self, hosts: Sequence[str] = SERVER_HOSTS) -> KeyPair:
        """A server certificate valid for ``hosts`` (IP addresses and DNS names)."""
        names = ",".join(f"IP:{host}" if _is_ip(host) else f"DNS:{host}" for host in hosts)
        return self._issue(
            f"server-{_slug(hosts[0])}",
            common_name=hosts[0],
            extensions=(
                f"subjectAltName={names}",
                "extendedKeyUsage=serverAuth",
                "keyUsage=critical,digitalSignature",
            ),
        )

    def issue_client(self, name: str) -> KeyPair:
        """A client certificate for mutual TLS whose subject is ``CN=name``."""
        return self._issue(
            f"client-{_slug(name)}",
            common_name=name,
            extensions=("extendedKeyUsage=clientAuth", "keyUsage=critical,digitalSignature"),
        )

    def _issue(self, stem: str, *, common_name: str, extensions: Sequence[str]) -> KeyPair:
        pair = KeyPair(self.directory / f"{stem}.pem", self.directory / f"{stem}-key.pem")
        request = self.directory / f"{stem}.csr"
        extfile = self.directory / f"{stem}.ext"
        extfile.write_text(
            "\n".join(
                [
                    "basicConstraints=critical,CA:FALSE",
                    "subjectKeyIdentifier=hash",
                    "authorityKeyIdentifier=keyid,issuer",
                    *extensions,
                ]
            )
            + "\n"
        )
        _openssl(
            "req",
            *KEY_OPTIONS,
            "-keyout",
            str(pair.key),
            "-out",
            str(request),
            "-subj",
            f"/CN={common_name}",
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            str(request),
            "-CA",
            str(self.pair.cert),
            "-CAkey",
            str(self.pair.key),
            "-CAcreateserial",
            "-days",
            str(VALID_DAYS),
            "-extfile",
            str(extfile),
            "-out",
            str(pair.cert),
        )
        return pair


def client_context(ca: Path, client: KeyPair | None = None) -> ssl.SSLContext:
    """An SSL context that trusts only ``ca`` and, for mutual TLS, presents ``client``."""
    context = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        context.load_cert_chain(str(client.cert), str(client.key))
    return context


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("the openssl command line is needed to make test certificates")
    argv = [binary, *args]
    completed = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise TlsError(argv, completed.stdout + completed.stderr)


def _is_ip(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def _slug(text: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in text.lower()).strip("-")
