"""Agent evaluation: natural-language tasks that measure how well agents use a project's MCP surface.

A project declares a `Suite` of `EvalTask`s (suite.py); `manage.py mcp_eval` measures it in three modes:
`select` ranks the tools each task's role sees by semantic similarity (select.py), `plan` runs every
reference plan through the SDK's client over HTTP (plan.py), `agent` lets a model behind an
OpenAI-compatible endpoint try each task (agent.py). Every run appends its figures to a history file
(history.py).
"""
