"""The demo's SECRET_KEY: never a published one; production refuses to start without its own."""

import os
import stat
import subprocess
import sys

from .servers import ROOT

PRINT_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def run_settings(module, var_dir, code=PRINT_KEY, **env):
    base = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SECRET_KEY", "DJANGO_DEBUG", "DJANGO_SETTINGS_MODULE", "VAR_DIR"}
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**base, "DJANGO_SETTINGS_MODULE": module, "VAR_DIR": str(var_dir), **env},
    )


def demo_key(var_dir, **env):
    result = run_settings("config.settings", var_dir, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_a_secret_key_each_checkout_generates_its_own_and_keeps_it(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    key = demo_key(first)
    assert len(key) >= 50
    assert (first / "secret_key").read_text().strip() == key
    assert stat.S_IMODE((first / "secret_key").stat().st_mode) == 0o600
    assert demo_key(first) == key  # the next run, and every other process of the checkout
    assert demo_key(first, DJANGO_DEBUG="1") == key  # development too
    assert demo_key(second) != key  # random: nothing in the source derives it
    assert sorted(path.name for path in first.iterdir() if "secret" in path.name) == ["secret_key"]  # no leftovers


def test_a_secret_key_from_the_environment_is_used_as_is(tmp_path):
    assert (
        demo_key(tmp_path, DJANGO_SECRET_KEY="k" * 20 + "from-the-environment" + "z" * 20)
        == "k" * 20 + "from-the-environment" + "z" * 20
    )
    assert not (tmp_path / "secret_key").exists()


def test_check_deploy_accepts_the_generated_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **{key: value for key, value in os.environ.items() if key not in {"DJANGO_SECRET_KEY", "DJANGO_DEBUG"}},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stderr
    assert "security.W009" not in result.stdout + result.stderr
    assert "System check identified" in result.stdout + result.stderr  # the deploy checks did run


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    services = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    for missing in ({}, {"DJANGO_SECRET_KEY": ""}):
        result = run_settings("config.production", tmp_path, **services, **missing)
        assert result.returncode != 0
        assert (
            "django.core.exceptions.ImproperlyConfigured: Set the DJANGO_SECRET_KEY environment variable for the "
            "production profile. Use a long random value"
        ) in result.stderr
    assert not (tmp_path / "secret_key").exists()  # and it did not make one up
    key = "p" * 25 + "production-key" + "q" * 25
    started = run_settings("config.production", tmp_path, DJANGO_SECRET_KEY=key, **services)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == key
