"""Live-server fault scenarios (issue 11): ``make chaos``.

Starts gunicorn (DEBUG=0, HTTPS=0 on 127.0.0.1) against $DATABASE_URL with the broker pointed
at a closed port, then:

1. broker down: randomize a patient through the API; expect 201 in a few seconds, the
   allocation and the outbox rows committed, /healthz/ "degraded" with the backlog;
2. broker back (eager dispatcher): run the outbox job; expect the three follow-up visits;
3. concurrent writes: 20 threads PUT one vital-signs form with the same If-Match; expect one
   200 and 19 × 412;
4. idempotent retry: the same AE POST with one Idempotency-Key sent 5 times in parallel;
   expect one AE.

Prints one line per scenario and exits non-zero if any outcome differs. Needs PostgreSQL
(row locks); uses a throw-away database named by CHAOS_DB (default ``chaos``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(method: str, url: str, body=None, headers=None) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    req.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            payload = json.loads(text or b"{}")
        except ValueError:
            payload = {"raw": text[:200].decode(errors="replace")}
        return exc.code, dict(exc.headers), payload


def manage(env: dict, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - our manage.py, fixed arguments
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def shell(env: dict, code: str) -> str:
    return manage(env, "shell", "--no-imports", "-c", code).strip()


SETUP = """
import datetime as dt
from django.utils import timezone
from knox.models import AuthToken
from trials import services as ts
from trials.models import Patient
from trials.roles import Role
from django.contrib.auth import get_user_model
from liveradvance.demo import eligible_screening_data
from liveradvance.setup import trial_setup

trial, site, _groups = trial_setup()
User = get_user_model()
user, _ = User.objects.get_or_create(username="chaos-investigator")
user.set_password("Chaos-Investigator-2026!"); user.save()
from django.contrib.auth.models import Group
user.groups.add(Group.objects.get(name=Role.INVESTIGATOR.value))
ts.site_membership_grant(user=user, site=site)
patient = ts.patient_create(user=user, site=site, sex="M", birth_date=dt.date(1970, 1, 1),
    consent_datetime=timezone.now() - dt.timedelta(hours=2), consent_version="v1")
ts.screening_save(user=user, patient=patient, data=eligible_screening_data(), complete=True)
_, token = AuthToken.objects.create(user=user)
print(patient.pk, token)
"""


def main() -> int:
    base_env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    db_url = base_env.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
    server_url, _, _name = db_url.rpartition("/")
    chaos_db = os.environ.get("CHAOS_DB", "chaos")
    for argv in (["dropdb", "--if-exists", "-h", "127.0.0.1", chaos_db],):
        subprocess.run(argv, check=False)  # noqa: S603 - PostgreSQL client, fixed argv
    subprocess.run(["createdb", "-h", "127.0.0.1", chaos_db], check=True)  # noqa: S603, S607
    env = {
        **base_env,
        "DATABASE_URL": f"{server_url}/{chaos_db}",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # broker down: nothing listens on port 1
        "DEBUG": "0",
        "HTTPS": "0",
        "SECRET_KEY": base_env.get("SECRET_KEY", "chaos-run-secret-key-not-for-production"),
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    manage(env, "migrate", "--noinput")
    patient_pk, token = shell(env, SETUP).split()[-2:]
    port = free_port()
    gunicorn = Path(PYTHON).with_name("gunicorn")
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [str(gunicorn), "liveradvance.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Token {token}"}
    failures = []

    def outcome(name: str, ok: bool, detail: str) -> None:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")  # noqa: T201 - the report
        if not ok:
            failures.append(name)

    try:
        for _ in range(100):
            try:
                request("GET", f"{url}/healthz/")
                break
            except OSError:
                time.sleep(0.2)
        started = time.monotonic()
        status, _, _body = request(
            "POST",
            f"{url}/api/v1/patients/{patient_pk}/randomize/",
            {"confirm_eligibility": True},
            auth,
        )
        took = time.monotonic() - started
        outcome("broker down: randomize", status == 201 and took < 8, f"{status} in {took:.1f}s")
        _, _, health = request("GET", f"{url}/healthz/")
        outcome(
            "broker down: /healthz/",
            health.get("broker") == "unavailable" and health["outbox"]["pending"] == 2,
            json.dumps(health),
        )
        eager = {**env, "REDIS_URL": ""}  # the broker is back: the dispatcher delivers
        shell(
            eager,
            "import datetime as dt; from django.utils import timezone; "
            "from crf.models import OutboxMessage; "
            "OutboxMessage.objects.update(available_at=timezone.now()); "
            "from crf.outbox import outbox_run; print(outbox_run())",
        )
        visits = shell(
            eager,
            f"from crf.models import Visit; print(Visit.objects.filter(patient_id={patient_pk},"
            " definition__kind='follow_up').count())",
        )
        outcome("after outage: follow-ups", visits == "3", f"{visits} follow-up visits")

        _, _, visit_list = request(
            "GET", f"{url}/api/v1/patients/{patient_pk}/visits/", None, auth
        )
        dose1 = next(v for v in visit_list if v["code"] == "dose1")
        form = f"{url}/api/v1/visits/{dose1['id']}/forms/vitals/"
        _, headers, _ = request("PUT", form, {"weight_kg": "70.0", "heart_rate_bpm": 80}, auth)
        etag = headers.get("ETag")
        with ThreadPoolExecutor(20) as pool:
            codes = list(
                pool.map(
                    lambda i: request(
                        "PUT", form, {"heart_rate_bpm": 60 + i}, {**auth, "If-Match": etag}
                    )[0],
                    range(20),
                )
            )
        outcome(
            "20 concurrent writes, one If-Match",
            codes.count(200) == 1 and codes.count(412) == 19,
            f"200×{codes.count(200)}, 412×{codes.count(412)}, other {sorted(set(codes))}",
        )
        ae = f"{url}/api/v1/patients/{patient_pk}/adverse-events/"
        with ThreadPoolExecutor(5) as pool:
            codes = list(
                pool.map(
                    lambda _i: request(
                        "POST", ae, {"term": "Fever"}, {**auth, "Idempotency-Key": "chaos-ae-1"}
                    )[0],
                    range(5),
                )
            )
        _, _, events = request("GET", ae, None, auth)
        outcome("AE retried 5× with one key", len(events) == 1, f"codes {codes}, {len(events)} AE")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
