"""Admin for the per-tool rate limits admins set without a deploy (applied on the next call in every process)."""

from django import forms
from django.contrib import admin

from .models import ToolRateLimit
from .throttling import rate_problem


class ToolRateLimitForm(forms.ModelForm):
    """Refuses a rate that does not parse, saying which forms are accepted, instead of storing one calls would ignore."""

    class Meta:
        model = ToolRateLimit
        fields = ("tool", "rate", "session_rate")

    def clean_rate(self):
        return self.checked(self.cleaned_data["rate"])

    def clean_session_rate(self):
        return self.checked(self.cleaned_data["session_rate"])

    @staticmethod
    def checked(rate):
        rate = rate.strip()
        problem = rate_problem(rate)
        if problem is not None:
            raise forms.ValidationError(problem, code="invalid_rate")
        return rate


@admin.register(ToolRateLimit)
class ToolRateLimitAdmin(admin.ModelAdmin):
    """A tool's rate per caller and per handshake-era session, over MCP_BRIDGE['THROTTLE_RATES']."""

    form = ToolRateLimitForm
    list_display = ("tool", "rate_text", "session_rate_text", "updated_at")
    search_fields = ("tool__name",)
    autocomplete_fields = ("tool",)
    readonly_fields = ("updated_at",)

    @admin.display(description="rate", ordering="rate")
    def rate_text(self, obj):
        return obj.rate or "no limit"

    @admin.display(description="rate per session", ordering="session_rate")
    def session_rate_text(self, obj):
        return obj.session_rate or "no per-session limit"
