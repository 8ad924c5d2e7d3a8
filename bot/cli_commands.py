"""Imports every CLI command module so they register on `bot.cli.app`."""
import importlib
import pkgutil

import bot

for _mod in pkgutil.iter_modules(bot.__path__):
    if _mod.name.startswith("cli_") and _mod.name != "cli_commands":
        importlib.import_module(f"bot.{_mod.name}")
