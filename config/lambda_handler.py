"""AWS Lambda entry point (API Gateway HTTP API or ALB): `config.lambda_handler.handler`.

Lambda runs one request per container at a time and may freeze between them, so MCP is served
stateless with plain JSON responses (set MCP_STATELESS_HTTP=1 and MCP_JSON_RESPONSE=1, which this
module defaults). The ASGI lifespan runs once per container.
"""

import os

os.environ.setdefault("MCP_STATELESS_HTTP", "1")
os.environ.setdefault("MCP_JSON_RESPONSE", "1")

from mangum import Mangum  # noqa: E402

from config.asgi import application  # noqa: E402

handler = Mangum(application, lifespan="auto")
