"""OAuth 2.1 for remote MCP clients, with django-oauth-toolkit (DOT) as the authorization server.

`authentication` is the resource-server side (the MCP endpoint accepting DOT's access tokens); the
rest configures DOT and adds what it lacks: the endpoint's protected resource metadata, a redirect
policy and rate limit for dynamic registration, the consent page, admin and cleanup.
"""
