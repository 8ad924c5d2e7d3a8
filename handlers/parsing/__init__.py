"""The free-text parser: chat messages → intents and fields (DESIGN §2.1, §8.3)."""
from .message import parse_message
from .sale import SaleParse, parse_sale
from .skus import SkuMatcher, SkuRef

__all__ = ["parse_message", "parse_sale", "SaleParse", "SkuMatcher", "SkuRef"]
