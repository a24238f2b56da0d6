"""A real Neo4j 5.26 Community for the test session, started without Docker.

`ensure_neo4j(tmp_path_factory)` returns a Bolt URI. With `CONTEXTQL_TEST_NEO4J_URI` set it returns that
and starts nothing. Otherwise it resolves the launcher's classpath with Maven (once; cached under
`~/.cache/contextql/neo4j/`, keyed by the pom's hash), starts `tools/neo4j/Launcher.java` on a free port with
a fresh data directory, waits for its READY line and for Bolt, and stops it at the end of the pytest session
and at interpreter exit (the JVM also stops by itself when this process dies: it watches its stdin).

Command line, for humans and CI:

    python -m tests.neo4j_server --resolve       # download the jars, cache the classpath, warm up once
    python -m tests.neo4j_server --run [--port N] [--data DIR]   # run a server until Ctrl-C

Environment: `CONTEXTQL_TEST_NEO4J_URI` (use a running server), `CONTEXTQL_NEO4J_CACHE` (cache folder),
`CONTEXTQL_TEST_NEO4J_START_TIMEOUT` (seconds, default 180), `CONTEXTQL_TEST_NEO4J_HEAP` (default 768m).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL_DIR = ROOT / "tools" / "neo4j"
POM = TOOL_DIR / "pom.xml"
LAUNCHER = TOOL_DIR / "Launcher.java"

URI_ENV = "CONTEXTQL_TEST_NEO4J_URI"
JVM_FLAGS = [
    "-XX:+UseSerialGC",  # 2 cores shared with the tests: no parallel GC threads
    "-XX:TieredStopAtLevel=1",  # C1 only: much less JIT CPU at start-up; test queries are small
    "-Xss1m",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
]


class Neo4jServerError(RuntimeError):
    """Neo4j could not be provided for the tests (missing tool, failed resolve or start-up)."""


def _log(message: str) -> None:
    print(f"[neo4j-test-server] {message}", file=sys.stderr, flush=True)


def stop_process(proc: subprocess.Popen, timeout: float) -> bool:
    """Stop a launcher JVM: close its stdin and SIGTERM (clean shutdown); SIGKILL if it hangs.

    Returns False when it had to be killed.
    """
    if proc.poll() is not None:
        return True
    with contextlib.suppress(Exception):
        if proc.stdin:
            proc.stdin.close()
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        return False


# -- classpath --------------------------------------------------------------------------------------


def cache_dir() -> Path:
    configured = os.environ.get("CONTEXTQL_NEO4J_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "contextql" / "neo4j"


def _pom_key() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()[:16]


def _require(tool: str, why: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise Neo4jServerError(
            f"`{tool}` was not found on PATH; it is needed to {why}. Install it (Java 17+ and Maven), or set "
            f"{URI_ENV}=bolt://host:port to use a Neo4j 5.26 server that is already running."
        )
    return found


def _classpath_ok(classpath: str) -> bool:
    entries = [entry for entry in classpath.split(os.pathsep) if entry]
    return bool(entries) and all(os.path.exists(entry) for entry in entries)


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock between processes (pytest-xdist workers resolving at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def resolve_classpath(*, verbose: bool = False) -> str:
    """The launcher's classpath, resolved with Maven on first use and cached by pom hash."""
    target = cache_dir() / f"cp-{_pom_key()}.txt"
    if target.exists() and _classpath_ok(target.read_text().strip()):
        return target.read_text().strip()
    with _file_lock(target.with_suffix(".lock")):
        if target.exists() and _classpath_ok(target.read_text().strip()):
            return target.read_text().strip()
        mvn = _require("mvn", "resolve the Neo4j jars (first run only; ~150 MB into ~/.m2)")
        _log(f"resolving the Neo4j classpath with Maven (first run downloads ~150 MB) -> {target}")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="contextql-neo4j-cp-") as scratch:
            output = Path(scratch) / "cp.txt"
            command = [mvn, "-B", "-f", str(POM), "dependency:build-classpath", f"-Dmdep.outputFile={output}"]
            if not verbose:
                command.insert(2, "-q")
            proc = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=None if verbose else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            if proc.returncode != 0 or not output.exists():
                tail = "\n".join((proc.stdout or "").splitlines()[-40:])
                raise Neo4jServerError(f"Maven could not resolve the Neo4j classpath (exit {proc.returncode}):\n{tail}")
            classpath = output.read_text().strip()
        if not _classpath_ok(classpath):
            raise Neo4jServerError("Maven produced an empty or broken classpath for the Neo4j launcher")
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(classpath)
        os.replace(tmp, target)
        _log(f"classpath resolved in {time.monotonic() - started:.1f}s ({len(classpath.split(os.pathsep))} jars)")
        return classpath


# -- the server -------------------------------------------------------------------------------------


@dataclass
class Neo4jServer:
    process: subprocess.Popen
    uri: str
    home: Path
    log_path: Path
    startup_seconds: float
    cds_pending: tuple[Path, Path] | None = None  # (being written at exit, final name)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the JVM: close its stdin and SIGTERM (clean shutdown), SIGKILL if it hangs."""
        if not stop_process(self.process, timeout):
            _log(f"Neo4j (pid {self.process.pid}) did not stop within {timeout:.0f}s; killed it")
        self._keep_class_archive()

    def _keep_class_archive(self) -> None:
        if self.cds_pending is None:
            return
        written, final = self.cds_pending
        self.cds_pending = None
        if self.process.returncode in (0, 143, -signal.SIGTERM) and written.exists() and written.stat().st_size:
            os.replace(written, final)
        else:
            with contextlib.suppress(OSError):
                written.unlink()


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no launcher log)"
    return "\n".join(text.splitlines()[-lines:])


def _debug_log_tail(home: Path) -> str:
    debug = home / "logs" / "debug.log"
    return _log_tail(debug, 30) if debug.exists() else ""


def start_server(
    home: Path,
    *,
    port: int = 0,
    timeout: float | None = None,
    heap: str | None = None,
    echo: bool = False,
) -> Neo4jServer:
    """Start the launcher on `port` (0: a free port chosen by the server) with data under `home`."""
    java = _require("java", "run Neo4j for the tests")
    classpath = resolve_classpath()
    timeout = timeout if timeout is not None else float(os.environ.get("CONTEXTQL_TEST_NEO4J_START_TIMEOUT", "180"))
    heap = heap or os.environ.get("CONTEXTQL_TEST_NEO4J_HEAP", "768m")
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "launcher.log"
    stdout_path = home / "launcher.out"
    cds_flags, cds_pending = _class_data_sharing(java)
    command = [
        java, f"-Xmx{heap}", "-Xms128m", *JVM_FLAGS, *cds_flags, "-cp", classpath, str(LAUNCHER),
        "--port", str(port), "--data", str(home),
    ]
    started = time.monotonic()
    with open(log_path, "wb") as log_file, open(stdout_path, "wb") as out_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # the JVM exits when this pipe closes, i.e. when we die
            stdout=out_file,
            stderr=None if echo else log_file,
            cwd=str(home),
        )
    deadline = started + timeout
    uri = None
    while time.monotonic() < deadline:
        text = stdout_path.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("READY "):
                uri = line.split(" ", 1)[1].strip()
            elif line.startswith("FAILED"):
                break
        if uri or process.poll() is not None or "FAILED" in text:
            break
        time.sleep(0.1)
    server = Neo4jServer(process, uri or "", home, log_path, 0.0, cds_pending)
    if not uri:
        server.stop(10)
        reason = (
            f"exited with status {process.returncode}" if process.returncode is not None
            else f"printed no READY line within {timeout:.0f}s"
        )
        raise Neo4jServerError(
            f"Neo4j test server {reason}.\n--- launcher log ({log_path}) ---\n{_log_tail(log_path)}"
            f"\n--- launcher stdout ---\n{_log_tail(stdout_path, 10)}\n{_debug_log_tail(home)}"
        )
    try:
        _wait_for_bolt(uri, deadline)
    except Exception as exc:
        server.stop(10)
        raise Neo4jServerError(
            f"Neo4j printed READY ({uri}) but Bolt did not answer: {exc}\n"
            f"--- launcher log ({log_path}) ---\n{_log_tail(log_path)}"
        ) from exc
    server.startup_seconds = time.monotonic() - started
    return server


def _class_data_sharing(java: str) -> tuple[list[str], tuple[Path, Path] | None]:
    """JVM flags for an AppCDS archive of Neo4j's classes (saves 1-2 s of start-up on later runs).

    The first run records the classes it loaded into an archive at exit; later runs map it. The
    archive is keyed by the pom and the JVM binary; a stale or unusable one is ignored by the JVM.
    Disable with CONTEXTQL_TEST_NEO4J_CDS=0.
    """
    if os.environ.get("CONTEXTQL_TEST_NEO4J_CDS", "1") == "0":
        return [], None
    real = os.path.realpath(java)
    try:
        stamp = f"{real}:{os.stat(real).st_mtime_ns}"
    except OSError:
        return [], None
    key = hashlib.sha256(f"{_pom_key()}:{stamp}".encode()).hexdigest()[:16]
    archive = cache_dir() / f"classes-{key}.jsa"
    if archive.exists():
        return [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"], None
    written = archive.with_suffix(f".{os.getpid()}.tmp")
    return [f"-XX:ArchiveClassesAtExit={written}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"], (written, archive)


def _wait_for_bolt(uri: str, deadline: float) -> None:
    import neo4j

    last: Exception | None = None
    while True:
        try:
            with neo4j.GraphDatabase.driver(uri, auth=None, connection_timeout=5) as driver:
                driver.verify_connectivity()
            return
        except Exception as exc:  # retry until the deadline
            last = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"no Bolt connection before the deadline: {last!r}")
        time.sleep(0.2)


# -- once per pytest session ---------------------------------------------------------------------------

_lock = threading.Lock()
_server: Neo4jServer | None = None
_failure: Neo4jServerError | None = None


def _stop_session_server() -> None:
    global _server
    with _lock:
        server, _server = _server, None
    if server is not None:
        started = time.monotonic()
        server.stop()
        _log(f"Neo4j stopped in {time.monotonic() - started:.1f}s (pid {server.process.pid})")


atexit.register(_stop_session_server)


def ensure_neo4j(tmp_path_factory) -> str:
    """The Bolt URI of the session's Neo4j, started on first call (later calls reuse it)."""
    global _server, _failure
    configured = os.environ.get(URI_ENV)
    if configured:
        return configured
    with _lock:
        if _server is not None and _server.process.poll() is None:
            return _server.uri
        if _failure is not None:  # do not retry a failed start for every test
            raise _failure
        home = Path(tmp_path_factory.mktemp("neo4j"))
        try:
            server = start_server(home)
        except Neo4jServerError as exc:
            _failure = exc
            raise
        _server = server
        _log(f"Neo4j ready at {server.uri} in {server.startup_seconds:.1f}s (data {home}, pid {server.process.pid})")
        # Stop when pytest finishes (config cleanups run at pytest_unconfigure, also after failures
        # and Ctrl-C), not only at interpreter exit; atexit stays as the fallback.
        config = _pytest_config()
        if config is not None:
            config.add_cleanup(_stop_session_server)
        return server.uri


def _pytest_config():
    """The running pytest `Config`, found on the call stack (the fixture's `request`), if any.

    `ensure_neo4j` only receives `tmp_path_factory`, which does not expose the config.
    """
    try:
        import pytest
    except ImportError:  # pragma: no cover
        return None
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, pytest.Config):
                return value
            config = getattr(value, "config", None) if isinstance(value, pytest.FixtureRequest) else None
            if isinstance(config, pytest.Config):
                return config
        frame = frame.f_back
    return None


# -- command line ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.neo4j_server", description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--resolve", action="store_true", help="resolve and cache the launcher classpath")
    action.add_argument("--run", action="store_true", help="run a server in the foreground until Ctrl-C")
    parser.add_argument("--port", type=int, default=7687)
    parser.add_argument("--data", type=Path, default=None, help="home directory (default: a temporary one)")
    args = parser.parse_args(argv)
    try:
        if args.resolve:
            classpath = resolve_classpath(verbose=True)
            print(f"{len(classpath.split(os.pathsep))} jars: {cache_dir() / f'cp-{_pom_key()}.txt'}", file=sys.stderr)
            _require("java", "run Neo4j for the tests")
            if _class_data_sharing(shutil.which("java") or "java")[1] is not None:
                print("warming up: one start/stop to record the class-data archive", file=sys.stderr)
                with tempfile.TemporaryDirectory(prefix="contextql-neo4j-warm-") as scratch:
                    server = start_server(Path(scratch))
                    print(f"started in {server.startup_seconds:.1f}s", file=sys.stderr)
                    server.stop()
            return 0
        home = args.data or Path(tempfile.mkdtemp(prefix="contextql-neo4j-"))
        server = start_server(home, port=args.port, echo=True)
    except Neo4jServerError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Neo4j at {server.uri} (data {home}); Ctrl-C or SIGTERM to stop", file=sys.stderr)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # also when started in the background (SIGINT ignored)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
