"""Who may do what reaches every serving process on its next call, whatever cache each one has."""

import sys
import threading

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group, Permission
from django.db import connections, transaction
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mcp_bridge.models import AccessGeneration
from mcp_bridge.permissions import invalidate_permissions, permissions_generation, prime_permissions

from . import servers
from .servers import ROOT


async def tool_names(client):
    return {tool.name for tool in (await client.list_tools()).tools}


@pytest.mark.subprocess
@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_change_saved_here_reaches_a_server_whose_cache_is_its_own(demo, mode):
    """runmcp on LocMemCache (Django's default): grants and deactivation saved through the ORM here apply on its next call."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["manage.py", "runmcp", "--user", "support_agent"],
        cwd=str(ROOT),
        env={**servers.test_database_env(), "DJANGO_SETTINGS_MODULE": "tests.locmem_settings"},
    )
    support = await Group.objects.aget(name="support")
    refund_grant = await Permission.objects.aget(content_type__app_label="mcp_bridge", codename="call_issue_refund")
    agent = demo["support_agent"]
    async with Client(server, mode=mode) as client:
        assert "issue_refund" in await tool_names(client)

        await sync_to_async(support.permissions.remove)(refund_grant)
        assert "issue_refund" not in await tool_names(client)

        await sync_to_async(agent.user_permissions.add)(refund_grant)  # granted to the user directly
        assert "issue_refund" in await tool_names(client)

        agent.is_active = False
        await agent.asave()
        with pytest.raises(MCPError, match="inactive"):
            await client.list_tools()


def test_the_database_keeps_the_generation_every_process_can_read(db, django_user_model):
    before = AccessGeneration.objects.get().value if AccessGeneration.objects.exists() else None
    django_user_model.objects.create_user("newcomer")
    after = AccessGeneration.objects.get().value
    assert after != before
    invalidate_permissions()
    assert AccessGeneration.objects.get().value != after
    assert AccessGeneration.objects.count() == 1


def test_a_process_local_cache_reads_the_generation_from_the_database(db, settings, django_assert_num_queries):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    AccessGeneration.objects.all().delete()
    first = permissions_generation()  # creates the row
    assert AccessGeneration.objects.get().value == first
    with django_assert_num_queries(1):
        assert permissions_generation() == first
    AccessGeneration.objects.update(value="changed-elsewhere")  # as another process's invalidation does
    assert permissions_generation() == "changed-elsewhere"


def test_a_shared_cache_costs_no_query_per_call(db, django_assert_num_queries):
    permissions_generation()
    with django_assert_num_queries(0):
        permissions_generation()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_set_loaded_before_the_grant_commits_is_not_kept(django_user_model):
    """A call that runs while the admin's transaction is open must not keep the old set after the commit."""
    user = django_user_model.objects.create_user("grantee")
    grant = Permission.objects.get(codename="view_customer")

    def concurrent_call():  # another request, on its own connection: it sees only committed rows
        try:
            loaded = django_user_model.objects.get(pk=user.pk)
            prime_permissions(loaded, permissions_generation())
            seen.append(loaded.has_perm("customers.view_customer"))
        finally:
            connections.close_all()

    seen = []
    with transaction.atomic():
        user.user_permissions.add(grant)
        thread = threading.Thread(target=concurrent_call)
        thread.start()
        thread.join()
    assert seen == [False]

    loaded = django_user_model.objects.get(pk=user.pk)
    prime_permissions(loaded, permissions_generation())
    assert loaded.has_perm("customers.view_customer")


def test_users_saved_before_the_generation_table_is_migrated_are_saved(tmp_path):
    """New code, old schema (a deploy before `migrate`, or a data migration that runs first): saves still work."""
    import os
    import subprocess

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SQLITE_PATH", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    for target in ([], ["mcp_bridge", "0001"]):
        subprocess.run(
            [sys.executable, "manage.py", "migrate", *target, "--verbosity", "0"], cwd=ROOT, env=env, check=True
        )
    saved = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.contrib.auth.models import User; "
            "from django.db import transaction\nwith transaction.atomic(): User.objects.create_user('early'); "
            "print(User.objects.filter(username='early').count())",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip() == "1"


def test_the_generation_reads_the_same_through_django_s_cache_api(db):
    """Processes of an earlier mcp_bridge read it through Django's cache API: during a deploy they must agree."""
    from mcp_bridge.cache import shared_cache
    from mcp_bridge.permissions import GENERATION_KEY

    invalidate_permissions()
    assert str(shared_cache().get(GENERATION_KEY)) == permissions_generation()


def test_a_generation_an_earlier_version_wrote_is_still_a_generation(db):
    """Earlier versions wrote it through Django's cache API (pickled, on Redis): read as a stable text token."""
    from mcp_bridge.cache import shared_cache
    from mcp_bridge.permissions import GENERATION_KEY

    shared_cache().set(GENERATION_KEY, "3f1c0a9e5b7d4c2a8e6f1b3d5a7c9e0f", None)
    generation = permissions_generation()
    assert isinstance(generation, str) and permissions_generation() == generation
    invalidate_permissions()
    assert permissions_generation() != generation
