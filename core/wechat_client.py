"""The official account's client for WeChat's HTTP API (customer-service messages…)."""
from __future__ import annotations

from typing import Any

import redis
from wechatpy import WeChatClient
from wechatpy.session.redisstorage import RedisStorage

from core.config import Settings
from core.errors import DependencyUnavailable


class _Client(WeChatClient):
    # wechatpy fetches the token from a fixed host; follow the configured base instead
    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def official_account_client(settings: Settings, conn: redis.Redis) -> WeChatClient:
    cfg = settings.wechat
    if not (cfg.get("WECHAT_APP_ID") and cfg.get("WECHAT_APP_SECRET")):
        raise DependencyUnavailable(
            "Sending WeChat messages needs WECHAT_APP_ID and WECHAT_APP_SECRET.", code="wechat_not_configured"
        )
    client = _Client(cfg["WECHAT_APP_ID"], cfg["WECHAT_APP_SECRET"], session=RedisStorage(conn, prefix="wechat"), timeout=10)
    client.API_BASE_URL = settings.wechat_api_base
    return client
