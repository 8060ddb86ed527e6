from django.apps import AppConfig


class ProxiesConfig(AppConfig):
    name = "bench.proxies"
    label = "bench_proxies"
    verbose_name = "Benchmark proxy models"
