"""Unit tests per mcp_bridge module, on Django's own models (auth, admin): no demo data, no server."""
