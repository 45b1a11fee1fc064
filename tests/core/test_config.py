from pathlib import Path

from core.config import load_settings


def test_embedded_defaults_live_under_data_dir(tmp_path: Path) -> None:
    s = load_settings({"DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'platform.db'}"
    assert s.redis_url is None and s.mqtt_url is None
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.search_model == "use-multilingual"
    assert s.payment_provider == "sandbox"
    assert s.index_dir == tmp_path / "index"


def test_production_values_come_from_the_environment() -> None:
    s = load_settings({
        "DATABASE_URL": "postgresql://u:p@db/platform",
        "REDIS_URL": "redis://cache:6379/0",
        "PORT": "9000",
        "SEARCH_MODEL": "/models/bge-small-zh",
        "WECHAT_APP_ID": "wx123",
    })
    # psycopg 3 is the driver the project ships
    assert s.database_url == "postgresql+psycopg://u:p@db/platform"
    assert s.redis_url == "redis://cache:6379/0"
    assert s.port == 9000
    assert s.search_model == "/models/bge-small-zh"
    assert s.wechat == {"WECHAT_APP_ID": "wx123"}
