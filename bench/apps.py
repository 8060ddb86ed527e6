from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "bench"
    verbose_name = "Benchmark helpers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import querycount

        querycount.install()
