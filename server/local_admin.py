"""The local admin channel: how `contextql verify` and `reindex` reach the server of their data directory.

The embedded store and the local search index admit one process, so while `contextql serve`
runs the command line cannot open them; it asks the server instead. Once it listens, the
server writes `<data dir>/server.json` with its URL, its pid and a fresh random admin token,
readable by its owner only (0600). Whoever can read that file can read the store's own files
too, so the token grants nothing the operator does not already have; it is accepted only by the
server that wrote it, only while it runs. The server holds an exclusive lock on the file for as
long as it runs and deletes it at stop: a file left behind by a killed server is unlocked, which
is how a stale one is told from a live one (a pid alone may have been reused).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from .stores import EXIT_UNAVAILABLE, StoreOpenError

logger = logging.getLogger("contextql")

FILE = "server.json"
TOKEN_PREFIX = "cqlocal_"  # told apart from API keys (cq_<id>_...) and JWTs (three dotted parts)


@dataclass(frozen=True)
class RunningServer:
    """What the command line needs to call the server of its data directory."""

    url: str  # the GraphQL endpoint
    pid: int
    token: str

    def describe(self) -> str:
        return f"the server at {self.url} (pid {self.pid})"


def endpoint(host: str, port: int) -> str:
    """The URL a local client uses for a server bound to `host`: a wildcard address is reached on loopback."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/graphql"


class Channel:
    """The server's side: write the file when listening, remove it when stopping."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir.resolve() / FILE
        self.token: str | None = None
        self._fd: int | None = None

    def open(self, url: str) -> str | None:
        """Publish `url` with a new token; None (and a warning) when the file cannot be written."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        body = json.dumps({"url": url, "pid": os.getpid(), "token": token}).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_NOFOLLOW: a symlink planted at this name cannot redirect the token elsewhere.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            logger.warning("cannot write %s (%s): `contextql verify` and `reindex` cannot reach this server",
                           self.path, exc.strerror)
            return None
        try:
            os.fchmod(fd, 0o600)  # a file a killed server left behind may have been loosened since
            _lock(fd)
            os.ftruncate(fd, 0)
            os.write(fd, body)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            logger.warning("cannot publish this server in %s (%s): `contextql verify` and `reindex` cannot reach it",
                           self.path, exc.strerror)
            return None
        self._fd, self.token = fd, token
        return token

    def close(self) -> None:
        fd, self._fd, self.token = self._fd, None, None
        if fd is None:
            return
        # Unlink while still holding the lock, so no client sees an unlocked file of a live server.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(fd)


def _lock(fd: int, attempts: int = 20) -> None:
    """Take the file's exclusive lock. A client checking a stale file holds a shared lock for an
    instant, so retry briefly; a lock still held after that belongs to another live server."""
    for attempt in range(attempts):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)


def find_server(data_dir: Path, *, wait: float = 2.0) -> RunningServer | None:
    """The live server of `data_dir`, or None when none runs there (no file, or a stale one).

    `StoreOpenError` when one runs but cannot be used from here (its file unreadable by this user).
    """
    path = data_dir.resolve() / FILE
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise StoreOpenError(
                f"a server runs on the data directory {path.parent}, but its admin token file {path} is not "
                "readable by you: run this as the user who started the server", EXIT_UNAVAILABLE) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            else:
                return None  # nobody holds it: left behind by a server that was killed
            raw = os.read(fd, 64 * 1024)
        finally:
            os.close(fd)
        try:
            info = json.loads(raw)
            return RunningServer(url=str(info["url"]), pid=int(info["pid"]), token=str(info["token"]))
        except (ValueError, KeyError, TypeError):
            # Locked but not yet written: the server is between taking the lock and writing.
            if time.monotonic() > deadline:
                raise StoreOpenError(f"{path} is held by a running server but does not say where it listens: "
                                     "restart that server", EXIT_UNAVAILABLE) from None
            time.sleep(0.05)
