"""Password rules beyond Django's own: never the username, in any case or reversed; the
length rule with a Chinese message."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError


class NotUsernameValidator:
    def validate(self, password: str, user=None) -> None:
        if user is None:
            return
        username = (user.get_username() or "").lower()
        lowered = password.lower()
        if username and (username in lowered or username[::-1] in lowered):
            raise ValidationError("密码不能包含用户名", code="password_contains_username")

    def get_help_text(self) -> str:
        return "密码不能包含用户名。"


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django 5.2 changed this message's msgid and its zh_Hans catalogue was not updated, so
    the stock validator answers in English; same rule, same wording as the old catalogue."""

    def get_error_message(self) -> str:
        return f"密码长度太短。密码必须包含至少 {self.min_length} 个字符。"

    def get_help_text(self) -> str:
        return f"密码必须包含至少 {self.min_length} 个字符。"


class StrengthValidator:
    """zxcvbn's estimate of how many guesses a password takes, scored 0..4; below
    ``min_score`` is refused. It finds what length and character rules miss: repeats
    (``zzzzzzzzzzzz``), keyboard walks, dates, dictionary words with l33t substitutions.
    The account's own details count as words an attacker would try first."""

    def __init__(self, min_score: int = 3):
        self.min_score = min_score

    def validate(self, password: str, user=None) -> None:
        from zxcvbn import zxcvbn

        inputs = []
        if user is not None:
            inputs = [
                str(getattr(user, name, "") or "")
                for name in ("username", "first_name", "last_name", "email")
            ]
            organisation = getattr(user, "organisation", None)
            if organisation is not None:
                inputs.append(organisation.name)
        # zxcvbn's cost grows with the length; past 72 characters (bcrypt's limit too)
        # nothing is gained.
        result = zxcvbn(password[:72], user_inputs=[i for i in inputs if i])
        if result["score"] < self.min_score:
            raise ValidationError(
                "密码强度不足：容易被猜中（如重复字符、键盘顺序、常见词、日期），"
                "请使用更长、更不规则的密码，例如几个不相关的词加数字和符号",
                code="password_too_weak",
            )

    def get_help_text(self) -> str:
        return "密码不能容易被猜中（重复字符、键盘顺序、常见词或日期）。"


class PasswordHistoryValidator:
    """A new password may not be the current one nor any of the last ``count`` (only their
    hashes are kept: portal.models.PasswordHistory, written by accounts.services)."""

    def __init__(self, count: int = 5):
        self.count = count

    def validate(self, password: str, user=None) -> None:
        from django.contrib.auth.hashers import check_password

        if user is None or user.pk is None or self.count <= 0:
            return
        from ..models import PasswordHistory, User

        current = User.objects.filter(pk=user.pk).values_list("password", flat=True).first()
        if current and check_password(password, current):
            raise ValidationError("新密码不能与原密码相同", code="password_same")
        hashes = PasswordHistory.objects.filter(user_id=user.pk).values_list("password", flat=True)[
            : self.count
        ]
        if any(check_password(password, encoded) for encoded in hashes):
            raise ValidationError(
                f"新密码不能与最近 {self.count} 次使用过的密码相同",
                code="password_reused",
            )

    def get_help_text(self) -> str:
        return f"不能与最近 {self.count} 次使用过的密码相同。"
