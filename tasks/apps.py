from django.apps import AppConfig


class TasksConfig(AppConfig):
    """Background jobs run by Celery workers (Celery discovers `tasks.tasks`)."""

    name = "tasks"
    verbose_name = "Background jobs"
