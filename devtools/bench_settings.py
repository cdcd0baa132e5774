"""Settings of the HTTP bench server: the project's settings plus the trivial baseline view."""

from liveradvance.settings import *  # noqa: F403

ROOT_URLCONF = "devtools.urls"
