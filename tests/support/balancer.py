"""A local load balancer for replica tests: Debian's nginx on a free loopback port, configured
like docs/deploy/nginx.conf (passive checks, idempotent requests retried on another replica),
started in the foreground and stopped by the PID of the process started."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.support.server import HOST, find_free_port

NGINX = "/usr/sbin/nginx"

CONFIG = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream stilton {{
{servers}
        keepalive 32;
    }}
    server {{
        listen {host}:{port};
        client_max_body_size 0;
        proxy_request_buffering off;
        proxy_buffering off;
        location / {{
            proxy_pass http://stilton;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def nginx_available() -> bool:
    return Path(NGINX).exists()


class Balancer:
    def __init__(self, backends: Sequence[int]) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="stilton-nginx-"))
        self.port = find_free_port()
        servers = "\n".join(
            f"        server {HOST}:{port} max_fails=1 fail_timeout=2s;" for port in backends
        )
        user = "user root;" if os.geteuid() == 0 else ""
        text = CONFIG.format(root=self.root, user=user, servers=servers, host=HOST, port=self.port)
        self.config = self.root / "nginx.conf"
        self.config.write_text(text)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        with (self.root / "stderr.log").open("ab") as log:
            self._process = subprocess.Popen(
                [NGINX, "-p", str(self.root), "-c", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("nginx exited: " + self.log())
            with contextlib.suppress(httpx.TransportError):
                httpx.get(self.url + "/-/health", timeout=2)
                return
            time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + self.log())

    def log(self) -> str:
        parts = [p.read_text(errors="replace") for p in self.root.glob("*.log")]
        return "\n".join(parts)[-4000:]

    def stop(self) -> None:
        process = self._process
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGQUIT)  # graceful: finish what is in flight
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
