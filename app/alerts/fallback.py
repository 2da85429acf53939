"""Alerts through a route's custom group bot: for chats the app is not in, or when its API fails.

The card is the usual alert card minus its callback buttons (a custom bot's cards
cannot call back); "Open in admin" stays, so people act from the admin page.
"""
from __future__ import annotations

from app.alerts.cards import CardView, alert_card
from app.alerts.models import Alert
from app.feishu import custom_bot
from app.inventory.schema import Route


def direct(route: Route, app_configured: bool) -> bool:
    """Post through the custom bot straight away: the route names no chat, or there is no app."""
    return route.custom_bot is not None and (not route.chat or not app_configured)


def send(alert: Alert, view: CardView, route: Route) -> None:
    """Post the alert's link-only card to the route's custom bot; CustomBotError when refused."""
    assert route.custom_bot is not None
    link = f"{view.public_url}/admin/alerts/{alert.id}"
    card = custom_bot.without_callbacks(alert_card(alert, view), link=link)
    custom_bot.post(route.custom_bot, custom_bot.card_body(card, title=f"[{alert.status}] {alert.title}", link=link))
