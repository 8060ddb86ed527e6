"""API keys: issued once, stored hashed, revocable, expiring; the mcp_apikey command."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.utils import timezone

from mcp_bridge.authentication import authenticate
from mcp_bridge.exceptions import AuthenticationFailed
from mcp_bridge.models import ApiKey, hash_api_key


def authenticate_token(raw):
    return authenticate(RequestFactory().get("/mcp", HTTP_AUTHORIZATION=f"Bearer {raw}"))


@pytest.fixture
def user(django_user_model, db):
    return django_user_model.objects.create_user("keyholder", password="x")


def test_issued_key_is_stored_only_as_digest(user):
    api_key, raw = ApiKey.issue(user, "laptop")
    assert raw.startswith(f"mcpb_{api_key.prefix}_")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.key_hash == hash_api_key(raw)
    assert raw not in {stored.key_hash, stored.prefix, stored.name}


def test_authenticates_to_its_user(user):
    _, raw = ApiKey.issue(user, "laptop")
    principal = authenticate_token(raw)
    assert principal.user_id == user.pk
    assert principal.load_user() == user


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"), id="wrong-secret"),
        pytest.param(lambda raw: "mcpb_000000000000_" + raw.split("_", 2)[2], id="unknown-prefix"),
        pytest.param(lambda raw: "not-a-key", id="malformed"),
        pytest.param(lambda raw: "", id="empty"),
    ],
)
def test_bad_keys_are_refused(user, mutate):
    _, raw = ApiKey.issue(user, "laptop")
    with pytest.raises(AuthenticationFailed):
        authenticate_token(mutate(raw))


def test_revoked_expired_and_inactive_are_refused(user):
    revoked, raw_revoked = ApiKey.issue(user, "revoked")
    revoked.revoke()
    _, raw_expired = ApiKey.issue(user, "expired", expires_at=timezone.now() - timedelta(seconds=1))
    for raw in (raw_revoked, raw_expired):
        with pytest.raises(AuthenticationFailed):
            authenticate_token(raw)
    _, raw_live = ApiKey.issue(user, "live")
    principal = authenticate_token(raw_live)
    user.is_active = False
    user.save()
    with pytest.raises(AuthenticationFailed):
        principal.load_user()  # an already-authenticated principal is re-checked on every call


def test_revocation_applies_to_an_authenticated_principal(user):
    api_key, raw = ApiKey.issue(user, "laptop")
    principal = authenticate_token(raw)
    api_key.revoke()
    with pytest.raises(AuthenticationFailed):
        principal.load_user()


def test_last_used_is_recorded(user):
    api_key, raw = ApiKey.issue(user, "laptop")
    authenticate_token(raw).load_user()
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_command_create_list_revoke(user):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "mcp_apikey", "create", "--user", "keyholder", "--name", "ci", "--expires-days", "7", stdout=out, stderr=err
    )
    raw = out.getvalue().strip()
    principal = authenticate_token(raw)
    assert principal.user_id == user.pk
    api_key = ApiKey.objects.get(prefix=ApiKey.parse_prefix(raw))
    assert api_key.expires_at > timezone.now() + timedelta(days=6)

    listing = io.StringIO()
    call_command("mcp_apikey", "list", stdout=listing)
    assert api_key.prefix in listing.getvalue() and raw not in listing.getvalue()

    call_command("mcp_apikey", "revoke", api_key.prefix, stdout=io.StringIO())
    with pytest.raises(AuthenticationFailed):
        authenticate_token(raw)


def test_command_errors_are_actionable(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("mcp_apikey", "create", "--user", "ghost")
    with pytest.raises(CommandError, match="No API key with prefix"):
        call_command("mcp_apikey", "revoke", "nope")


def test_admin_issues_a_key_once_and_revokes_it(admin_client, user):
    response = admin_client.post("/admin/mcp_bridge/apikey/add/", {"user": user.pk, "name": "from admin"}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word for text in shown for word in text.split() if word.startswith("mcpb_"))
    api_key = ApiKey.objects.get(name="from admin")
    assert api_key.key_hash == hash_api_key(raw) and raw not in api_key.key_hash
    assert authenticate_token(raw).user_id == user.pk
    admin_client.post("/admin/mcp_bridge/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]})
    with pytest.raises(AuthenticationFailed):
        authenticate_token(raw)


# -- the remembered credential (served from the process under the access generation) -------------


def current_generation():
    from mcp_bridge.permissions import permissions_generation

    return permissions_generation()


def test_remembered_credential_needs_no_query_and_gives_each_call_its_own_user(user, django_assert_num_queries):
    _, raw = ApiKey.issue(user, "laptop")
    principal = authenticate_token(raw)
    first = principal.load_user(current_generation())  # loads the key and user, records the use
    generation = current_generation()
    with django_assert_num_queries(0):
        second = principal.load_user(generation)
        third = principal.load_user(generation)
    assert first == second == third == user
    assert second is not third  # nothing is shared between concurrent calls


@pytest.mark.parametrize("change", ["revoke", "admin_bulk_revoke", "deactivate_user", "shorten_expiry"])
def test_a_change_saved_through_django_applies_to_a_remembered_credential(user, admin_client, change):
    api_key, raw = ApiKey.issue(user, "laptop")
    principal = authenticate_token(raw)
    principal.load_user(current_generation())
    if change == "revoke":
        api_key.revoke()
    elif change == "admin_bulk_revoke":  # QuerySet.update inside the action: it must replace the generation itself
        admin_client.post("/admin/mcp_bridge/apikey/", {"action": "revoke_keys", "_selected_action": [api_key.pk]})
    elif change == "deactivate_user":
        user.is_active = False
        user.save()
    else:
        api_key.expires_at = timezone.now() - timedelta(seconds=1)
        api_key.save()
    with pytest.raises(AuthenticationFailed):
        principal.load_user(current_generation())


def test_remembered_credential_expires_on_time(user):
    import time

    _, raw = ApiKey.issue(user, "short-lived", expires_at=timezone.now() + timedelta(seconds=1))
    principal = authenticate_token(raw)
    generation = current_generation()
    principal.load_user(generation)
    time.sleep(1.1)
    with pytest.raises(AuthenticationFailed, match="expired"):
        principal.load_user(generation)  # nothing was saved: the expiry itself is checked on every call


def test_last_used_is_written_at_most_once_per_interval(user, django_assert_num_queries):
    api_key, raw = ApiKey.issue(user, "laptop")
    principal = authenticate_token(raw)
    generation = current_generation()
    principal.load_user(generation)
    api_key.refresh_from_db()
    written = api_key.last_used_at
    assert written is not None
    with django_assert_num_queries(0):
        principal.load_user(generation)
    api_key.refresh_from_db()
    assert api_key.last_used_at == written


def test_only_a_last_login_save_keeps_the_access_generation(user):
    """Every admin log-in saves last_login; that alone must not throw away every cached set."""
    before = current_generation()
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    assert current_generation() == before
    user.is_staff = True
    user.save(update_fields=["last_login", "is_staff"])
    assert current_generation() != before


def test_remembered_tokens_are_bounded_and_a_full_memory_keeps_the_recent_ones():
    """A process remembers at most so many verified tokens; the least recently used make room, not all of them."""
    from mcp_bridge.authentication import (
        REMEMBERED_CREDENTIALS,
        Principal,
        forget_credentials,
        remember_principal,
        remembered_principal,
    )

    principal = Principal(kind="api_key", user_id=1, credential_id=1)
    try:
        for n in range(REMEMBERED_CREDENTIALS + 1):
            remember_principal(f"token-{n}", principal)
        assert remembered_principal("token-0") is None
        assert remembered_principal("token-1") is principal
        assert remembered_principal(f"token-{REMEMBERED_CREDENTIALS}") is principal
        forget_credentials()
        assert remembered_principal("token-1") is None
    finally:
        forget_credentials()
