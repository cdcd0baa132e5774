"""HTTP throughput on loopback: an investigator journey vs a trivial authenticated view.

A gunicorn server (the production server) runs on the bench database with
``devtools.bench_settings``; ``users`` simulated users (threads spread over a few processes,
each with its own logged-in session, no think time) request the URLs in turn for
``seconds``. The same users then request the trivial view; the ratio of the two rates is the
share of the server's capacity that the application's own work leaves (#16: ≥ 50%).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection, connections
from django.urls import reverse

from liveradvance.session import REFRESHED_KEY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    d = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("the HTTP bench needs PostgreSQL (a server shared by processes)")
    auth = d["USER"] + (f":{d['PASSWORD']}" if d.get("PASSWORD") else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def sessions_for(user, n: int) -> list[str]:
    """``n`` logged-in sessions of ``user`` (what the login page would create)."""
    keys = []
    for _ in range(n):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store[REFRESHED_KEY] = int(time.time())
        store.create()
        keys.append(store.session_key)
    return keys


def _user_loop(port: int, cookie: str, urls: list[str], until: float, out: list) -> None:
    done = errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    while time.time() < until:
        url = urls[i % len(urls)]
        i += 1
        try:
            conn.request(
                "GET", url, headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
            else:
                done += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    out.append((done, errors))


def _load_process(args) -> tuple[int, int]:
    port, cookies, urls, until = args
    out: list = []
    threads = [
        threading.Thread(target=_user_loop, args=(port, c, urls[i:] + urls[:i], until, out))
        for i, c in enumerate(cookies)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(d for d, _ in out), sum(e for _, e in out)


def _load(port: int, cookies: list[str], urls: list[str], seconds: float, procs: int):
    chunks = [cookies[i::procs] for i in range(procs)]
    connections.close_all()  # forked load processes must not share the bench's connection
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        until = time.time() + seconds  # the pool's processes are up: the clock starts now
        parts = pool.map(_load_process, [(port, c, urls, until) for c in chunks if c])
    return sum(d for d, _ in parts) / seconds, sum(e for _, e in parts)


def journey_urls(limit: int = 20) -> list[str]:
    """What an investigator does: dashboard, lists, a patient, a visit form, the worklist."""
    from crf.models import Visit
    from trials.models import Patient, PatientStatus

    urls = [
        reverse("trials:dashboard"),
        reverse("trials:patient-list"),
        reverse("crf:visit-worklist"),
    ]
    # Randomized patients move on to "in follow-up" once their visits start: both have visits
    # (status "randomized" alone picked no patient at a generated site, a 3-URL journey).
    followed = [PatientStatus.RANDOMIZED, PatientStatus.IN_FOLLOW_UP]
    patients = Patient.objects.filter(site__code="01", status__in=followed).order_by("pk")
    for patient in patients[:limit]:
        urls += [
            reverse("trials:patient-detail", args=[patient.pk]),
            reverse("crf:patient-timeline", kwargs={"patient_pk": patient.pk}),
        ]
        visit = Visit.objects.filter(patient=patient).order_by("target_date").first()
        if visit is not None:
            urls.append(
                reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": "labs"})
            )
    return urls


def measure_http(*, user, users: int = 50, seconds: float = 10, workers: int = 4) -> dict:
    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL"}
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "devtools.bench_settings",
        "DATABASE_URL": _database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "DEVTOOLS": "1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "HTTPS": "0",  # plain HTTP on loopback: no redirect to https (issue 11 default)
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [str(gunicorn), "liveradvance.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    cmd += ["--workers", str(workers), "--log-level", "warning"]
    server = subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR)  # noqa: S603 - our own binary
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        cookies = sessions_for(user, users)
        ping = [reverse("devtools-ping", urlconf="devtools.urls")]
        journey = journey_urls()
        procs = min(4, users)
        _load(port, cookies[:procs], ping + journey, 2, procs)  # warm-up: imports, caches
        trivial_rps, trivial_errors = _load(port, cookies, ping, seconds, procs)
        journey_rps, journey_errors = _load(port, cookies, journey, seconds, procs)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "users": users,
        "workers": workers,
        "seconds": seconds,
        "trivial_rps": trivial_rps,
        "journey_rps": journey_rps,
        "errors": trivial_errors + journey_errors,
        "journey": f"{len(journey)} URLs in turn: dashboard, patient list, worklist, then per "
        "patient its page, timeline and first visit's lab form (GET)",
    }
