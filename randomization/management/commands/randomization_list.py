"""Print the active randomization list and its per-stratum balance (unblinded statistician).

The output contains the arm of every slot: run it only as the unblinded statistician.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from randomization import selectors
from trials import roles


class Command(BaseCommand):
    help = "Print the active randomization list and a per-stratum balance report (UNBLINDED)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--user", required=True, help="username of the unblinded statistician running it"
        )
        parser.add_argument("--balance-only", action="store_true", help="omit the rows")

    def handle(self, *args, user: str, balance_only: bool = False, **options) -> None:
        account = get_user_model().objects.filter(username=user, is_active=True).first()
        if account is None or not roles.can_manage_randomization_list(account):
            raise CommandError("Only an active unblinded statistician may print the list.")
        overview = selectors.randomization_list_overview(user=account)
        if not overview or not overview["active"]:
            raise CommandError("There is no active randomization list.")
        active = overview["active"]
        out = self.stdout
        out.write(
            f"Randomization list v{active.version}{' DEMO' if active.is_demo else ''} "
            f"({active.source}) seed={active.seed or '-'} strata={active.strata} "
            f"blocks={active.block_sizes} length={active.length_per_stratum} "
            f"sha256={active.sha256}"
        )
        out.write("arms: " + ", ".join(f"{c}={lbl}" for c, lbl in active.arm_labels.items()))
        if not balance_only:
            out.write("stratum,sequence,block,block_size,arm,randomization_number")
            for e in overview["entries"]:
                alloc = getattr(e, "allocation", None)
                number = alloc.randomization_number if alloc else ""
                out.write(
                    f"{e.stratum},{e.sequence},{e.block_number},{e.block_size},{e.arm},{number}"
                )
        out.write("\nBalance per stratum (listed / allocated):")
        for b in overview["balance"]:
            arms = "  ".join(
                f"{code}={v['listed']}/{v['allocated']}" for code, v in b["per_arm"].items()
            )
            out.write(
                f"  stratum {b['stratum']}: {b['listed']} rows in {b['blocks']} blocks, "
                f"{b['allocated']} allocated  {arms}  imbalance {b['imbalance']}"
            )
