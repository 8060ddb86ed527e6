"""McpModelBackend answers model-wide checks from the set primed for the call, and nothing else.

Each rule is also checked with plain ModelBackend configured instead: answers stay right, they are
read from the database on each call.
"""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from mcp_bridge.permissions import prime_permissions

MCP_BACKEND = "mcp_bridge.backends.McpModelBackend"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
VIEW = "customers.view_customer"

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[MCP_BACKEND, MODEL_BACKEND])
def backend(request, settings):
    settings.AUTHENTICATION_BACKENDS = [request.param]
    return request.param


@pytest.fixture
def grantee(django_user_model):
    user = django_user_model.objects.create_user("grantee")
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    return user


def next_call(user):
    """The user as the next MCP call sees it: a fresh instance, primed."""
    user = type(user).objects.get(pk=user.pk)
    prime_permissions(user)
    return user


def queries_of(check):
    with CaptureQueriesContext(connection) as captured:
        answer = check()
    return answer, len(captured)


def test_the_primed_set_answers_without_queries(grantee, settings):
    settings.AUTHENTICATION_BACKENDS = [MCP_BACKEND]
    next_call(grantee)  # caches the set under the current generation
    user = next_call(grantee)
    assert user.mcp_permissions == frozenset({VIEW})
    assert queries_of(
        lambda: (user.has_perm(VIEW), user.has_module_perms("customers"), user.get_all_permissions())
    ) == (
        (True, True, {VIEW}),
        0,
    )
    assert queries_of(lambda: async_to_sync(user.ahas_perm)(VIEW)) == (True, 0)
    user.mcp_permissions = frozenset({"customers.delete_customer"})  # the set is what answers, not the database
    assert user.has_perm("customers.delete_customer") and not user.has_perm(VIEW)


def test_plain_model_backend_reads_the_database_on_each_call(grantee, settings):
    settings.AUTHENTICATION_BACKENDS = [MODEL_BACKEND]
    next_call(grantee)
    user = next_call(grantee)  # the set is cached, yet ModelBackend does not read it
    answer, queries = queries_of(lambda: user.has_perm(VIEW))
    assert answer is True and queries > 0


def test_a_revoked_grant_applies_on_the_next_call(grantee, backend):
    assert next_call(grantee).has_perm(VIEW)
    grantee.user_permissions.clear()
    assert not next_call(grantee).has_perm(VIEW)


def test_a_grant_applies_to_a_user_primed_again(grantee, settings):
    """Priming the same instance under a new generation must not read the set it holds from before."""
    settings.AUTHENTICATION_BACKENDS = [MCP_BACKEND]
    user = next_call(grantee)
    grantee.user_permissions.add(Permission.objects.get(codename="change_customer"))
    prime_permissions(user)
    assert user.has_perm("customers.change_customer")


def test_object_permissions_are_not_answered_from_the_primed_set(grantee, backend):
    user = next_call(grantee)
    customer = Customer.objects.create(name="Ana", email="ana@example.com", country="DE")
    assert user.has_perm(VIEW)
    assert not user.has_perm(VIEW, customer)
    assert user.get_all_permissions(customer) == set()
    assert not async_to_sync(user.ahas_perm)(VIEW, customer)


def test_an_inactive_user_has_no_permissions(grantee, backend):
    grantee.is_active = False
    grantee.save()
    user = next_call(grantee)
    assert user.mcp_permissions == frozenset()
    user.mcp_permissions = frozenset({VIEW})  # even a set primed while active
    assert not user.has_perm(VIEW)
    assert user.get_all_permissions() == set()
    assert not user.has_module_perms("customers")


def test_an_anonymous_user_has_no_permissions(backend):
    user = AnonymousUser()
    prime_permissions(user)
    assert user.mcp_permissions == frozenset()
    user.mcp_permissions = frozenset({VIEW})
    assert not user.has_perm(VIEW)
    assert user.get_all_permissions() == set()


def test_an_unprimed_user_is_answered_by_model_backend(grantee, backend):
    user = type(grantee).objects.get(pk=grantee.pk)
    assert not hasattr(user, "mcp_permissions")
    assert user.has_perm(VIEW) and not user.has_perm("customers.delete_customer")
