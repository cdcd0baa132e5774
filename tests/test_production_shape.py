"""The docker-compose shape without Docker: gunicorn serving the app against PostgreSQL."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_app_with_debug_off():
    if connection.vendor != "postgresql":
        pytest.skip("the production shape runs on PostgreSQL (set DATABASE_URL)")
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}",
        "DEBUG": "0",
        "SECRET_KEY": "production-shape-test-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on 127.0.0.1 (README: "DEBUG=0 without HTTPS"): non-secure cookies.
        "HTTPS": "0",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            str(gunicorn),
            "liveradvance.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/healthz/")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200, proc.stdout.read1().decode() if proc.stdout else ""
        assert '"ok"' in body
        status, body = get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200
        assert "Log in" in body
        # Static files come from the project (whitenoise), never a CDN.
        status, _ = get(f"http://127.0.0.1:{port}/static/vendor/bootstrap/bootstrap.min.css")
        assert status == 200
        status, _ = get(f"http://127.0.0.1:{port}/patients/")
        assert status == 200  # the login page after redirect
        # Logging in works over plain HTTP with HTTPS=0 (issue 11: it was a CSRF 403).
        # The tests hash with MD5 for speed; gunicorn runs the production hashers.
        from django.contrib.auth.hashers import PBKDF2PasswordHasher

        user = UserFactory(username="prodshape")
        user.password = PBKDF2PasswordHasher().encode("Correct-Horse-9", "prodshapesalt")
        user.save(update_fields=["password"])
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_url = f"http://127.0.0.1:{port}/accounts/login/"
        page = opener.open(login_url, timeout=10).read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"username": "prodshape", "password": "Correct-Horse-9", "csrfmiddlewaretoken": csrf}
        ).encode()
        landed = opener.open(login_url, data=form, timeout=10)
        assert landed.status == 200
        assert "Log out" in landed.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_production_settings_refuse_the_default_secret_key():
    env = {**os.environ, "DEBUG": "0", "SECRET_KEY": ""}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            "'liveradvance.settings'; django.setup()",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
