import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveradvance.settings")
application = get_wsgi_application()

# Refuse to serve a real trial from the public demo list (randomization.E001).
from randomization.checks import refuse_to_start_on_demo_list  # noqa: E402

refuse_to_start_on_demo_list()
