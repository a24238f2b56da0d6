"""Run a Neo4j 5.26 for the benchmark (the test launcher, with server-like JVM settings).

Reuses the launcher and the Maven-resolved classpath of `tests/neo4j_server.py`
but not its JVM flags: the test server stops the JIT at C1 and uses the serial
GC to start fast, which would understate Neo4j under load. Here the JVM runs
with its defaults (C2, G1), a fixed heap and a larger page cache.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HEAP = "1g"
PAGECACHE = "512m"
JVM_FLAGS = [
    "-Xss1m",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
]


@dataclass
class BenchNeo4j:
    process: subprocess.Popen
    uri: str
    home: Path
    startup_s: float
    settings: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 60.0) -> None:
        from tests.neo4j_server import stop_process

        stop_process(self.process, timeout)


def start(home: Path, *, heap: str = HEAP, pagecache: str = PAGECACHE, timeout: float = 240.0) -> BenchNeo4j:
    from tests.neo4j_server import LAUNCHER, resolve_classpath

    classpath = resolve_classpath()
    home.mkdir(parents=True, exist_ok=True)
    command = [
        "java", f"-Xms{heap}", f"-Xmx{heap}", *JVM_FLAGS, "-cp", classpath, str(LAUNCHER),
        "--port", "0", "--host", "127.0.0.1", "--data", str(home), "--pagecache", pagecache,
    ]
    out_path, log_path = home / "launcher.out", home / "launcher.log"
    started = time.monotonic()
    with open(out_path, "wb") as out, open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=out, stderr=log, cwd=str(home))
    uri = None
    while time.monotonic() - started < timeout:
        text = out_path.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith("READY "):
                uri = line.split(" ", 1)[1].strip()
        if uri or "FAILED" in text or process.poll() is not None:
            break
        time.sleep(0.2)
    server = BenchNeo4j(process, uri or "", home, time.monotonic() - started,
                        {"heap": heap, "pagecache": pagecache, "jvm_flags": JVM_FLAGS})
    if not uri:
        server.stop(10)
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"Neo4j did not start (see {log_path}):\n{tail}")
    _wait_for_bolt(uri, started + timeout)
    server.startup_s = time.monotonic() - started
    return server


def _wait_for_bolt(uri: str, deadline: float) -> None:
    import neo4j

    while True:
        try:
            with neo4j.GraphDatabase.driver(uri, auth=None, connection_timeout=5) as driver:
                driver.verify_connectivity()
            return
        except Exception as error:  # retry until the deadline
            if time.monotonic() > deadline:
                raise RuntimeError(f"Neo4j Bolt at {uri} did not answer: {error!r}") from error
        time.sleep(0.3)


def version(uri: str) -> str | None:
    import neo4j

    try:
        with neo4j.GraphDatabase.driver(uri, auth=None, connection_timeout=5) as driver:
            records, _, _ = driver.execute_query("CALL dbms.components() YIELD name, versions, edition "
                                                 "RETURN name, versions[0], edition")
            return " ".join(str(v) for v in records[0].values()) if records else None
    except Exception:  # noqa: BLE001 - a description, never fatal
        return None
