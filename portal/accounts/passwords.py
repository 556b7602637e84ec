"""Password rules beyond Django's own: never the username, in any case or reversed."""

from __future__ import annotations

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
