"""Dashboard panels. Higher apps (registry, filings, oversight) register theirs in
``AppConfig.ready`` so the portal shell never imports them (architecture.md: layering)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    kinds: tuple[str, ...]
    order: int
    template: str
    context: Callable  # (request) -> dict
    scripts: tuple[str, ...] = ()  # static paths the panel needs (Chart.js, its drawer)


PANELS: list[Panel] = []
MENU: list[tuple[tuple[str, ...], int, str, str, str]] = []  # kinds, order, label, url name, icon


def register_panel(
    *, kinds: tuple[str, ...], order: int, template: str, scripts: tuple[str, ...] = ()
):
    def decorator(func):
        PANELS.append(Panel(kinds, order, template, func, tuple(scripts)))
        return func

    return decorator


def register_menu(*, kinds: tuple[str, ...], order: int, label: str, url_name: str, icon: str):
    MENU.append((kinds, order, label, url_name, icon))


def panels_for(request) -> list[tuple[str, dict]]:
    kind = request.user.kind
    return [
        (panel.template, panel.context(request))
        for panel in sorted(PANELS, key=lambda p: p.order)
        if kind in panel.kinds
    ]


def scripts_for(request) -> list[str]:
    """The static scripts the panels shown need, each once, in the panels' order: a page
    loads Chart.js only when one of its panels draws a chart."""
    kind = request.user.kind
    seen: dict[str, None] = {}
    for panel in sorted(PANELS, key=lambda p: p.order):
        if kind in panel.kinds:
            seen.update(dict.fromkeys(panel.scripts))
    return list(seen)
