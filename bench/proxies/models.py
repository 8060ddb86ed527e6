"""BENCH_PROXY_MODELS proxy models of Customer (no tables), to grow the number of exposed models."""

from django.conf import settings

from customers.models import Customer

PROXY_MODELS = []

for _index in range(1, settings.BENCH_PROXY_MODELS + 1):
    _meta = type(
        "Meta",
        (),
        {
            "proxy": True,
            "app_label": "bench_proxies",
            "verbose_name": f"customer view {_index:02d}",
            "verbose_name_plural": f"customer views {_index:02d}",
        },
    )
    _model = type(f"CustomerView{_index:02d}", (Customer,), {"__module__": __name__, "Meta": _meta})
    globals()[_model.__name__] = _model
    PROXY_MODELS.append(_model)
