"""The production compose file stays in step with the settings the code reads."""

from __future__ import annotations

from pathlib import Path

import yaml

from contextql.server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_api_service_environment_names_are_real_settings():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = compose["services"]["api"]["environment"]
    known = {f"CONTEXTQL_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(set(environment) - known)
    assert not unknown, f"docker-compose.yml sets unknown settings: {unknown}"
    settings = Settings(_env_file=None, **{k.removeprefix("CONTEXTQL_").lower(): v for k, v in environment.items()})
    assert settings.graph == "neo4j" and settings.neo4j_uri == "bolt://neo4j:7687"


def test_stack_has_the_production_services_with_health_checks():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["neo4j"]["image"].startswith("neo4j:5.26")
    for name in ("neo4j", "qdrant", "redis"):
        assert "healthcheck" in services[name], name
        assert services["api"]["depends_on"][name]["condition"] == "service_healthy"
    assert services["api"]["build"] == "."
    assert (ROOT / "Dockerfile").exists()
