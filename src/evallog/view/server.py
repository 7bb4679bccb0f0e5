"""Run the ``evallog view`` app with uvicorn: bind, print the URL, serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from evallog.errors import ConfigError

__all__ = ["serve", "is_loopback", "bind"]

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0: a free port)."""
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot resolve host {host!r}: {exc}") from exc
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int, token: str | None) -> str:
    shown = host.strip("[]")
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def _server_class() -> Any:
    import contextlib
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopping gracefully on SIGINT / SIGTERM and then returning normally.

        (uvicorn re-raises the signal after its shutdown, which would end the
        process with a signal status instead of exit code 0.)
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def _stop(self, sig: int, frame: Any) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

    return Server


def serve(
    roots: Sequence[Any],
    *,
    host: str = "127.0.0.1",
    port: int = 7575,
    title: str | None = None,
    on_ready: Callable[[str], None] | None = None,
    open_browser: bool = False,
) -> None:
    """Serve ``roots`` until interrupted; ``on_ready(url)`` is called once the socket listens.

    A host that is not a loopback address gets a random token, part of the
    URL, required by every request.
    """
    from evallog.view import require_extra

    require_extra()
    from evallog.view.app import ViewState

    state = ViewState(list(roots), title=title)
    try:
        _run(state, host, port, on_ready, open_browser)
    finally:
        state.catalog.close()


def _run(state: Any, host: str, port: int, on_ready: Callable[[str], None] | None, open_browser: bool) -> None:
    from evallog.view.app import create_app

    loopback = is_loopback(host)
    token = None if loopback else secrets.token_urlsafe(24)
    sock = bind(host, port)
    real_port = sock.getsockname()[1]
    hosts = None
    if loopback:
        hosts = {"localhost", "127.0.0.1", "::1", host.strip("[]")}
    app = create_app(state, token=token, hosts=hosts)
    url = _url(host, real_port, token)
    config = uvicorn_config(app)
    server = _server_class()(config)
    if on_ready is not None:
        on_ready(url)
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def uvicorn_config(app: Any) -> Any:
    import uvicorn

    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
