"""The rules alone: no database, no NATS, time as an argument."""

from __future__ import annotations

import datetime as dt

import pytest

from fd_marketing.config import Config, ConfigError, Coupons
from fd_marketing.domain import coupons, digest, recommendations

DAY = 86_400_000


def ms(*args: int, tz: str = "UTC") -> int:
    from zoneinfo import ZoneInfo

    return int(dt.datetime(*args, tzinfo=ZoneInfo(tz)).timestamp() * 1000)  # type: ignore[misc]


def delivered(n: int, last_ms: int, every_days: int = 1) -> list[coupons.DeliveredOrder]:
    return [coupons.DeliveredOrder(f"o{i}", last_ms - i * every_days * DAY, 1000, "EUR") for i in range(n)]


def test_a_customer_with_enough_delivered_orders_in_the_window_qualifies() -> None:
    now = ms(2026, 11, 20, 12)
    rule = Coupons(min_orders=3, window_days=30, percent_off=15, valid_days=10)
    c = coupons.evaluate(rule, "ada", delivered(3, now), now, "EUR")
    assert c is not None
    assert (c.period, c.delivered_orders, c.spend_minor, c.percent_off) == ("2026-11", 3, 3000, 15)
    assert c.expires_at_ms == now + 10 * DAY
    assert c.code.startswith("BEST-2026-11-")
    # Two orders are not enough; nor three spread over more than the window.
    assert coupons.evaluate(rule, "ada", delivered(2, now), now, "EUR") is None
    assert coupons.evaluate(rule, "ada", delivered(3, now, every_days=16), now, "EUR") is None


def test_the_coupon_of_a_period_is_always_the_same_one() -> None:
    now = ms(2026, 11, 20, 12)
    rule = Coupons()
    first = coupons.evaluate(rule, "ada", delivered(3, now), now, "EUR")
    later = coupons.evaluate(rule, "ada", delivered(5, now + DAY), now + DAY, "EUR")
    assert first is not None and later is not None
    assert first.coupon_id == later.coupon_id  # same customer, same month: same coupon
    december = coupons.evaluate(
        rule, "ada", delivered(3, ms(2026, 12, 1, 0, 30)), ms(2026, 12, 1, 0, 30), "EUR"
    )
    assert december is not None and december.coupon_id != first.coupon_id
    assert coupons.period_of(ms(2026, 11, 30, 23, 59)) == "2026-11"


def test_recommendations_rank_items_ordered_together_with_the_customers_favourites() -> None:
    ordered = {("s", "pizza"): 3, ("s", "salad"): 1}
    together = {
        ("s", "pizza"): {("s", "cola"): 5, ("s", "tiramisu"): 1, ("s", "salad"): 9},
        ("s", "salad"): {("s", "water"): 4, ("s", "tiramisu"): 2},
    }
    names = {("s", "cola"): "Cola", ("s", "tiramisu"): "Tiramisu"}
    got = recommendations.rank(ordered, together, names, 5)
    assert [(r.menu_item_id, r.score, r.because_of) for r in got] == [
        ("cola", 15, "pizza"),
        ("tiramisu", 5, "pizza"),  # 3*1 via pizza + 1*2 via salad; pizza contributes more
        ("water", 4, "salad"),
    ]
    assert got[0].name == "Cola" and got[2].name == "water"  # no name seen: the id
    assert recommendations.rank(ordered, together, names, 1)[0].menu_item_id == "cola"
    assert recommendations.rank({}, together, names, 5) == []


def test_pairs_are_both_directions_of_distinct_items_of_one_store() -> None:
    got = recommendations.pairs([("s", "a"), ("s", "b"), ("s", "a")])
    assert got == [(("s", "a"), ("s", "b")), (("s", "b"), ("s", "a"))]


def test_the_digest_is_due_at_nine_in_the_customers_own_time_zone() -> None:
    berlin, ny = "Europe/Berlin", "America/New_York"
    since = ms(2026, 11, 1)
    before = ms(2026, 11, 30, 8, 59, tz=berlin)
    assert digest.to_send(before, berlin, 9, "2026-11-29", since) is None
    at_nine = ms(2026, 11, 30, 9, tz=berlin)
    assert digest.to_send(at_nine, berlin, 9, "2026-11-29", since) == "2026-11-30"
    assert digest.to_send(at_nine, berlin, 9, "2026-11-30", since) is None  # sent already
    # The same instant is 03:00 in New York: its 09:00 has not come yet; yesterday's has.
    assert digest.to_send(at_nine, ny, 9, "2026-11-29", since) is None
    assert digest.to_send(at_nine, ny, 9, None, since) == "2026-11-29"
    # Daylight saving: 09:00 Berlin is 07:00 UTC in summer, 08:00 UTC in winter.
    assert digest.due_instant_ms(dt.date(2026, 7, 1), berlin, 9) == ms(2026, 7, 1, 7)
    assert digest.due_instant_ms(dt.date(2026, 12, 1), berlin, 9) == ms(2026, 12, 1, 8)


def test_a_missed_digest_catches_up_once_and_nothing_before_the_customer_was_known() -> None:
    tz = "Europe/Berlin"
    # Down from the 26th to the 30th at noon: one digest, for the 30th, not five.
    assert digest.to_send(ms(2026, 11, 30, 12, tz=tz), tz, 9, "2026-11-25", ms(2026, 11, 1)) == "2026-11-30"
    # Known since 10:00 today: today's 09:00 was before that; the first digest is tomorrow's.
    assert digest.to_send(ms(2026, 11, 30, 12, tz=tz), tz, 9, None, ms(2026, 11, 30, 10, tz=tz)) is None
    assert digest.to_send(ms(2026, 12, 1, 9, tz=tz), tz, 9, None, ms(2026, 11, 30, 10, tz=tz)) == "2026-12-01"


def test_bad_configuration_names_every_variable_at_fault() -> None:
    with pytest.raises(ConfigError) as e:
        Config.from_env(
            {
                "LISTEN_ADDR": "nowhere",
                "DATABASE_URL": "mysql://u:secret@h/db",
                "NATS_URL": "http://x",
                "DIGEST_DEFAULT_TIME_ZONE": "Mars/Olympus",
                "COUPON_MIN_ORDERS": "three",
                "DIGEST_HOUR": "25",
            }
        )
    text = str(e.value)
    for key in (
        "LISTEN_ADDR",
        "DATABASE_URL",
        "NATS_URL",
        "DIGEST_DEFAULT_TIME_ZONE",
        "COUPON_MIN_ORDERS",
        "DIGEST_HOUR",
        "AUTH_JWKS_URL",
    ):
        assert key in text, text
    assert "secret" not in text
    assert text.startswith("invalid configuration:\n  ")
