"""Typed errors and their Chinese messages (portal/errors.py)."""

from portal.errors import joined


def test_several_chinese_sentences_join_into_one():
    """portal.errors.joined: 'a。' + 'b。' reads 'a；b。', never 'a。；b。'."""
    assert joined(["密码太短。", "这个密码太常见了。"]) == "密码太短；这个密码太常见了。"
    assert joined(["只有一句"]) == "只有一句。"
    assert joined([]) == ""
