"""Titles and descriptions read as English: 'Get an order', 'Refunds of an order', 'Create a customer'."""

import pytest

from mcp_bridge.model_tools import with_article
from mcp_bridge.sites import site


@pytest.mark.parametrize(
    "noun, expected",
    [
        ("order", "an order"),
        ("customer", "a customer"),
        ("support ticket", "a support ticket"),
        ("invoice", "an invoice"),
        ("user", "a user"),
        ("unit", "a unit"),
        ("hour", "an hour"),
        ("European office", "a European office"),
        ("API key", "an API key"),
    ],
)
def test_indefinite_article(noun, expected):
    assert with_article(noun) == expected


def test_generated_titles_use_the_right_article():
    registry = site.registry
    titles = {name: tool.title for name, tool in registry.tools.items()}
    assert titles["get_order"] == "Get an order"
    assert titles["get_customer"] == "Get a customer"
    assert titles["create_customer"] == "Create a customer"
    assert titles["update_customer"] == "Update a customer"
    assert titles["delete_customer"] == "Delete a customer"
    assert titles["create_support_ticket"] == "Create a support ticket"
    templates = {t.uri_template: t.title for t in registry.resource_templates}
    assert templates["customers://order/{id}/refunds"] == "Refunds of an order"
    assert templates["customers://customer/{id}/orders"] == "Orders of a customer"
    descriptions = " ".join(tool.description for tool in registry.tools.values())
    assert " a order" not in descriptions and "id of an order" in descriptions
