"""/readyz probes what MCP calls use: the database, the MCP cache (MCP_BRIDGE['CACHE_ALIAS']) and the registry."""

import pytest


@pytest.fixture
def unusable_cache(tmp_path):
    """A file cache whose directory cannot be created (a file is in the way): every write fails."""
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("")
    return {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(in_the_way / "cache")}


@pytest.mark.django_db
@pytest.mark.parametrize("broken_alias, status", [("mcp", 503), ("default", 200)])
def test_readiness_probes_the_mcp_cache(client, settings, tmp_path, unusable_cache, broken_alias, status):
    working = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path / "cache")}
    settings.CACHES = {"default": working, "mcp": working, broken_alias: unusable_cache}
    settings.MCP_BRIDGE = {**settings.MCP_BRIDGE, "CACHE_ALIAS": "mcp"}
    response = client.get("/readyz")
    assert response.status_code == status
    assert response.json()["checks"]["cache"] == ("ok" if status == 200 else "error: NotADirectoryError")
