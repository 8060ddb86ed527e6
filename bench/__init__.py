"""The mcp_bridge benchmark: `python bench/run.py` (see BENCHMARKS.md). Not part of the product."""
