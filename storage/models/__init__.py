"""All tables of the domain; import from here."""
from .base import Base, UTCDateTime, utcnow
from .catalog import PricePolicy, SafetyStockOverride, Sku, SkuAlias
from .deals import CLAIM_LIVE, ClaimKey, ClaimLock, CustomerClaim, RebateScheme, Violation
from .movements import Sale, SaleLine, Shipment, Stocktake, StocktakeLine
from .network import ROLES, ChatIdentity, Invite, Partner, User, UserRegion
from .ops import (AlertState, AuditLog, CacheEntry, CallbackToken, ConversationState, JobSetting,
                  JobTick, Outbox, ProcessedMessage)

__all__ = [
    "Base", "UTCDateTime", "utcnow", "PricePolicy", "SafetyStockOverride", "Sku", "SkuAlias",
    "CLAIM_LIVE", "ClaimKey", "ClaimLock", "CustomerClaim", "RebateScheme", "Violation", "Sale", "SaleLine", "Shipment",
    "Stocktake", "StocktakeLine", "ROLES", "ChatIdentity", "Invite", "Partner", "User", "UserRegion",
    "AlertState", "AuditLog", "CacheEntry", "CallbackToken", "ConversationState", "JobSetting",
    "JobTick", "Outbox", "ProcessedMessage",
]
