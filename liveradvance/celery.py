"""Celery application. Tasks live in each app's ``tasks.py`` (thin wrappers around services)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveradvance.settings")

app = Celery("liveradvance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
