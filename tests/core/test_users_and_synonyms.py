import pytest
from flask import Flask
from sqlalchemy import select

from core.db import unit_of_work
from core.errors import Forbidden
from core.models import Role, User
from core.services.catalog.synonyms import all_synonyms, put_synonym
from tests.conftest import cli


def test_create_admin_and_refuse_a_duplicate(app: Flask) -> None:
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["users", "create-admin", "alice", "--password", "s3cret-pass"])
    assert ok.exit_code == 0 and "Created platform admin 'alice'" in ok.output
    again = runner.invoke(args=["users", "create-admin", "alice", "--password", "s3cret-pass"])
    assert again.exit_code == 1 and "用户名 'alice' 已被使用" in again.output
    short = runner.invoke(args=["users", "create-admin", "bob", "--password", "short"])
    assert short.exit_code == 1 and "密码至少 8 个字符" in short.output
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        alice = s.scalar(select(User).where(User.username == "alice"))
        assert alice.role == Role.platform_admin and alice.password_hash != "s3cret-pass"


def test_only_platform_admins_edit_synonyms(app: Flask) -> None:
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        user = User(display_name="某企业", role=Role.enterprise)
        s.add(user)
        s.flush()
        with pytest.raises(Forbidden):
            put_synonym(s, user, "瘦肉精", ["猪肉"])
        assert all_synonyms(s)["瘦肉精"][0] == "克伦特罗"


def test_synonym_commands_set_list_remove(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cli(app, "search", "synonyms", "remove", "塑化剂")
    assert cli(app, "search", "synonyms", "set", "塑化剂", "邻苯二甲酸酯", "DEHP").exit_code == 0
    listing = cli(app, "search", "synonyms", "list").stdout
    assert '"term": "塑化剂", "expansions": ["邻苯二甲酸酯", "DEHP"]' in listing
    assert cli(app, "search", "synonyms", "remove", "塑化剂").exit_code == 0
    missing = cli(app, "search", "synonyms", "remove", "塑化剂")
    assert missing.exit_code == 1 and "没有同义词" in missing.stderr

    bad = tmp_path / "syn.jsonl"
    bad.write_text('{"term": "甲荃醛", "expansions": ["甲醛"]}\n{"term": "", "expansions": ["x"]}\nnope\n', "utf-8")
    result = cli(app, "search", "synonyms", "load", str(bad))
    assert "Loaded 1 synonyms, 2 rejected." in result.stdout
    assert "line 2: rejected" in result.stderr and "line 3: rejected" in result.stderr


def test_a_fresh_database_has_the_starting_dictionary(app: Flask) -> None:
    with unit_of_work(app.extensions["platform"].session_factory) as s:
        dictionary = all_synonyms(s)
    assert len(dictionary) >= 300
    assert "克伦特罗" in dictionary["瘦肉精"]
