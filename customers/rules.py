"""The demo's business rules for MCP calls, declared on the ModelAdmins in admin.py (see mcp_bridge.rules)."""

from django.contrib import admin
from django.core.exceptions import ValidationError

from .models import SupportTicket


def reopening_needs_a_note(request, arguments):
    """A closed ticket is reopened only with update_ticket_status and a note saying why.

    Closed means the customer was told the matter is settled; whoever reopens it must leave a reason
    in the ticket's history, which only update_ticket_status writes. A ticket the caller may not see
    is left to the tool, which says it does not exist.
    """
    status = arguments.get("status")
    ticket_id = arguments.get("ticket_id", arguments.get("id"))
    if status is None or status == SupportTicket.Status.CLOSED or ticket_id is None:
        return  # not a status change of an existing ticket away from closed
    visible = admin.site.get_model_admin(SupportTicket).get_mcp_queryset(request)
    if not visible.filter(pk=ticket_id, status=SupportTicket.Status.CLOSED).exists():
        return
    if "ticket_id" not in arguments:  # update_support_ticket takes no note
        raise ValidationError(
            {
                "status": f"Ticket {ticket_id} is closed: reopen it with update_ticket_status and a note saying why, "
                "or leave status out to change other fields."
            }
        )
    if not (arguments.get("note") or "").strip():
        raise ValidationError(
            {"note": f"Ticket {ticket_id} is closed; reopening it needs a note saying why. Send the note with status."}
        )
