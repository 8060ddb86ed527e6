"""Issue fresh credentials for a benchmark user: OAuth access tokens and API keys (bench settings only).

The OAuth tokens are made as the authorization server would make them, through DOT's public model API:
one confidential authorization-code Application for the benchmark, and AccessTokens for the user bound to
the resource the MCP endpoint serves (`--resource`, RFC 8707), their raw value stored as DOT stores
it (`set_token_value`: the lookup checksum, and the value itself unless token storage is redacted).
Prints one JSON object on stdout: {"oauth": [token, ...], "api_key": [key, ...]}.
"""

import json
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value
from oauthlib.common import generate_token

from mcp_bridge.models import ApiKey

APPLICATION_NAME = "bench client"
DEFAULT_SCOPE = "mcp:read mcp:write mcp:reports"


class Command(BaseCommand):
    help = "Issue OAuth access tokens and API keys for a benchmark user (bench settings only)."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="support_agent")
        parser.add_argument("--resource", required=True, help="The MCP endpoint's canonical URI, e.g. http://host/mcp.")
        parser.add_argument("--scope", default=DEFAULT_SCOPE)
        parser.add_argument("--oauth", type=int, default=1, help="Access tokens to issue.")
        parser.add_argument("--api-keys", type=int, default=0, help="API keys to issue.")
        parser.add_argument("--expires-in", type=int, default=3600, help="Seconds until the tokens expire.")

    def handle(self, *args, user, resource, scope, oauth, api_keys, expires_in, **options):
        if not resource.startswith(("http://", "https://")):
            raise CommandError(
                f"--resource must be an absolute http(s) URI such as http://127.0.0.1:8000/mcp, not {resource!r}."
            )
        try:
            caller = get_user_model()._meta.default_manager.get_by_natural_key(user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {user!r}: run bench_prepare first.") from None
        Application = get_application_model()
        application = Application.objects.filter(name=APPLICATION_NAME, user=caller).first()
        if application is None:
            application = Application.objects.create(
                name=APPLICATION_NAME,
                user=caller,
                client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
                redirect_uris="http://127.0.0.1/callback",
            )
        AccessToken = get_access_token_model()
        expires = timezone.now() + timedelta(seconds=expires_in)
        tokens = []
        for _ in range(oauth):
            raw = generate_token()
            token = AccessToken(
                user=caller, application=application, expires=expires, scope=scope, resource=[resource.rstrip("/")]
            )
            set_token_value(token, raw)
            token.save()
            tokens.append(raw)
        keys = [ApiKey.issue(caller, "bench key")[1] for _ in range(api_keys)]
        self.stdout.write(json.dumps({"oauth": tokens, "api_key": keys}))
