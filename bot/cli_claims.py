"""`partnerbot claims check [NAME] [--phone P] [--uscc C] [--batch]`: the conflicts a claim would meet
(DESIGN §8.4), written as one JSON object per probe; nothing is written to the database."""
from __future__ import annotations

import json
import sys

import typer

from .cli import app, err, fail, open_runtime, run

claims_app = typer.Typer(no_args_is_help=True, help="Customer claims (报备)")
app.add_typer(claims_app, name="claims")


def _probe(case: object, number: int) -> tuple[str, str | None, str | None]:
    """(customer, phone, uscc) of one `--batch` line; null or missing fields are empty."""
    if not isinstance(case, dict):
        fail(f'stdin line {number}: expected a JSON object with "customer" (and "phone", "uscc")')
    values = [case.get(k) for k in ("customer", "phone", "uscc")]
    if any(v is not None and not isinstance(v, (str, int)) for v in values):
        fail(f'stdin line {number}: "customer", "phone" and "uscc" must be strings or null')
    customer, phone, code = (None if v is None else str(v) for v in values)
    return customer or "", phone, code


def _warn(customer: str, phone: str | None, code: str | None) -> None:
    """Says on stderr which given phone or USCC is not valid (the probe is answered without it)."""
    from services import phones, uscc
    from services.errors import InvalidInput

    for value, check in ((phone, phones.normalize), (code, uscc.validate)):
        if value and value.strip():
            try:
                check(value)
            except InvalidInput as exc:
                err.print(f"{customer or '-'}: {exc.facts['reason']} — not used", markup=False, highlight=False,
                          soft_wrap=True)


@claims_app.command("check")
def check(name: str = typer.Argument(None, help="the customer's name (omit with --batch)"),
          phone: str = typer.Option(None, "--phone", help="the customer's phone"),
          uscc: str = typer.Option(None, "--uscc", help="the unified social credit code"),
          batch: bool = typer.Option(False, "--batch", help='read {"customer", "phone", "uscc"} JSON lines on stdin')
          ) -> None:
    """Print the live claims a claim would conflict with, as JSON; writes nothing."""
    from services import claims_match

    if not batch and not (name or phone or uscc):
        fail("give a customer name (or --phone / --uscc), or --batch with JSON lines on stdin", 2)

    def probes():
        if not batch:
            yield name or "", phone, uscc
            return
        for number, line in enumerate(sys.stdin, start=1):
            if line.strip():
                try:
                    case = json.loads(line)
                except ValueError:
                    fail(f"stdin line {number}: not JSON")
                yield _probe(case, number)

    async def go() -> None:
        async with open_runtime() as rt:
            for customer, tel, code in probes():
                _warn(customer, tel, code)
                found = await claims_match.find_conflicts(rt.uow(), customer=customer, phone=tel, uscc=code)
                print(json.dumps({"conflicts": [{"claim_id": c.claim_id, "customer": c.customer, "partner": c.partner,
                                                 "reason": c.reason, "score": c.score} for c in found]},
                                 ensure_ascii=False))
        sys.stdout.flush()

    run(go())
