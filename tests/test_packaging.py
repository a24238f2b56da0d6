"""Installed, ContextQL is one import package, `contextql`, and lives beside anything else in an environment."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FOLDERS = ("server", "schema", "resolvers", "graph", "migrations", "models")


def test_every_package_folder_is_listed_for_the_wheel():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {
        "contextql." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in FOLDERS for init in (ROOT / folder).rglob("__init__.py")
    }
    assert listed == folders, "pyproject's [tool.setuptools] packages and the folders disagree"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
                   check=True, timeout=600)
    return next(out.glob("contextql-*.whl"))


def test_wheel_adds_one_top_level_package(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"contextql"}
    for data in ("contextql/migrations/neo4j/", "contextql/models/all-MiniLM-L6-v2-int8/model.onnx",
                 "contextql/server/static/graphiql/"):
        assert any(name.startswith(data) for name in names), data


def test_installs_next_to_the_pypi_package_named_schema(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "schema==0.7.7", str(wheel)], check=True, timeout=600)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # ContextQL's dependencies come from the test environment, added as a plain path: its .pth files (this
    # checkout's editable install among them) are not run, so `contextql` can only come from the wheel.
    deps = next(p for p in map(Path, sys.path) if p.name == "site-packages" and (p / "strawberry").is_dir())
    (site / "zz_test_dependencies.pth").write_text(f"{deps}\n")
    probe = ("import schema, contextql.server.cli as cli, contextql.schema.root as root; "
             "print(schema.__file__, cli.__file__, root.__file__)")
    shown = subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    files = [Path(f) for f in shown.stdout.split()]
    assert files[0] == site / "schema.py"  # PyPI's schema, untouched
    assert files[1] == site / "contextql" / "server" / "cli.py" and files[2] == site / "contextql" / "schema" / "root.py"
