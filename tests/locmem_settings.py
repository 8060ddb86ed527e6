"""The demo project on Django's default cache (LocMemCache), as a fresh `startproject` has it."""

from config.settings import *  # noqa: F401,F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
