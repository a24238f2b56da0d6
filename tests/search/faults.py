"""A fault injected at the index engine.

No Qdrant server binary can be installed on these machines, so an outage cannot be caused
for real (there is no server process to stop): `FlakyEngine` wraps the real engine (Edge or
qdrant-client) and, while `down`, fails every call the way a lost connection does.
"""

from __future__ import annotations

from typing import Any


class FlakyEngine:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.down = False
        self.failed_calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.real, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                self.failed_calls += 1
                raise ConnectionRefusedError(f"injected fault: the index is unreachable ({name})")
            return attr(*args, **kwargs)

        return call
