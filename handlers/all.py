"""Loads every handler module so its intents, flows and slash-commands register; entry points
import `handle` from here."""
from . import admin_files, admin_jobs, admin_network, admin_price, admin_ship, admin_sku  # noqa: F401
from . import basics, sales, stock, understand  # noqa: F401
from . import claims  # noqa: F401  (after understand: its parser reads claim commands first)
from . import rebates  # noqa: F401
from . import violations  # noqa: F401  (after claims: its parser reads violation commands first)
from .context import Ctx, Deps  # noqa: F401
from .router import handle  # noqa: F401
