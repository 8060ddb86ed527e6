"""Celery application for the demo project (background jobs live in the `tasks` app).

`celery -A config worker` loads it; settings come from the CELERY_* names in config.settings, and each
installed app's `tasks` module is imported (mcp_bridge.tasks holds the report jobs and their sweep).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
