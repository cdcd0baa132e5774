"""The randomization_list management command (unblinded statistician only)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_command_prints_list_and_balance_for_the_statistician(unblinded_statistician, by_arm):
    out = StringIO()
    call_command("randomization_list", user=unblinded_statistician.username, stdout=out)
    text = out.getvalue()
    assert "arms: A=MSC, B=Placebo" in text
    assert "stratum,sequence,block,block_size,arm,randomization_number" in text
    assert "2,1," in text
    assert "stratum 2:" in text
    assert "imbalance" in text


@pytest.mark.parametrize("who", ["investigator", "trial_admin", "pharmacist"])
def test_command_refuses_anyone_else(request, who, by_arm):
    with pytest.raises(CommandError, match="Only an active unblinded statistician"):
        call_command("randomization_list", user=request.getfixturevalue(who).username)


def test_setup_command_creates_no_list_without_the_demo_flag():
    from randomization.models import RandomizationList

    call_command("setup_liveradvance", stdout=StringIO())
    assert not RandomizationList.objects.exists()


def test_demo_flag_creates_the_demo_list_once_marked_demo():
    from randomization.models import RandomizationList
    from randomization.services import DEMO_SEED

    call_command("setup_liveradvance", "--demo-patients", stdout=StringIO())
    call_command("setup_liveradvance", "--demo-patients", stdout=StringIO())
    assert list(RandomizationList.objects.values_list("seed", "is_demo")) == [(DEMO_SEED, True)]
