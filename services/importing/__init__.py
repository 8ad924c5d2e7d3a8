"""Import kinds and the machinery they share; the entry points are in `services.imports`."""
