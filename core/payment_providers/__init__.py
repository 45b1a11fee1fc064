"""Payment providers behind one interface; `PAYMENT_PROVIDER` picks one."""
from __future__ import annotations

from core.config import Settings
from core.errors import DependencyUnavailable
from core.payment_providers.base import InvalidNotification, PaymentNotice, PaymentProvider


def get_provider(settings: Settings, name: str | None = None) -> PaymentProvider:
    name = name or settings.payment_provider
    if name == "sandbox":
        from core.payment_providers.sandbox import SandboxProvider

        return SandboxProvider(settings.secret_key)
    if name == "wechatpay":
        from core.payment_providers.wechatpay import WeChatPayProvider

        return WeChatPayProvider.from_settings(settings)
    if name == "wechatpay_v3":
        from core.payment_providers.wechatpay_v3 import WeChatPayV3Provider

        return WeChatPayV3Provider.from_settings(settings)
    raise DependencyUnavailable(f"未知的 PAYMENT_PROVIDER {name!r}：可选 sandbox、wechatpay 或 wechatpay_v3。",
                                code="payment_provider")


__all__ = ["InvalidNotification", "PaymentNotice", "PaymentProvider", "get_provider"]
