"""AppTest: the Models page lists the catalog with measured figures, filters it, and explains empty results."""

from __future__ import annotations

from decimal import Decimal

from bakeoff.records import Result, Run
from bakeoff.store.store import Store, url_for_path

MODELS = {
    "models": {
        "alpha": {"provider": "scripted", "model": "alpha", "kind": "commercial", "label": "Alpha API",
                  "context_window": 128000, "license": "proprietary", "best_for": ["chat"],
                  "card_url": "https://example.test/alpha", "facts_source": "https://example.test/alpha",
                  "facts_as_of": "2026-11-01"},
        "moe": {"provider": "scripted", "model": "moe", "kind": "local", "label": "Mixture Local", "open_weights": True,
                "params_b": 46.7, "active_params_b": 12.9, "license": "Apache-2.0", "best_for": ["moe"]},
        "tiny": {"provider": "scripted", "model": "tiny", "kind": "local", "label": "Tiny Local", "open_weights": True,
                 "params_b": 0.135},
        "old": {"provider": "scripted", "model": "old", "kind": "commercial", "label": "Old API", "active": False},
    }
}
PRICING = {"prices": {"alpha": [{"as_of": "2026-01-01", "source": "https://example.test/p", "input": 0.15,
                                 "output": 0.6}]}}


def _history(tmp_path) -> None:
    store = Store(url_for_path(tmp_path / "ui.db"))  # the database start_app points the app at
    run = Run(prompt="p", model_refs=["alpha"])
    store.save_run(run)
    for i, ttft in enumerate((0.2, 0.4, 0.9)):
        store.save_result(Result(run_id=run.run_id, model_ref=f"alpha{i}", provider="scripted", model="alpha",
                                 status="ok", ttft_s=ttft, output_tokens_per_s=40.0 + i,
                                 cost_usd=Decimal("0.0002"), cost_basis="api price"))


def test_table_shows_facts_prices_and_measured_figures(start_app, tmp_path):
    _history(tmp_path)
    at = start_app(MODELS, PRICING)
    at.switch_page("app_pages/models.py").run()
    assert not at.exception and at.title[0].value == "Models"
    table = at.dataframe[0].value.set_index("id")
    assert list(table.index) == ["alpha", "moe", "tiny"]  # retired hidden by default
    assert (table.loc["moe", "params_b"], table.loc["moe", "active_params_b"]) == (46.7, 12.9)
    assert table.loc["moe", "size"] == "30–70B" and table.loc["tiny", "size"] == "<1B"
    assert table.loc["alpha", "price_in_per_m"] == 0.15 and table.loc["alpha", "kind"] == "commercial"
    assert table.loc["alpha", "median_ttft_s"] == 0.4 and table.loc["alpha", "median_tokens_per_s"] == 41.0
    assert round(table.loc["alpha", "cost_per_1k_usd"], 6) == 0.2 and table.loc["alpha", "answers"] == 3
    assert "Measured figures for 1 models" in "\n".join(c.value for c in at.caption)


def test_filters_and_the_empty_state(start_app):
    at = start_app(MODELS, PRICING)
    at.switch_page("app_pages/models.py").run()
    assert "No measured figures yet" in at.info[0].value  # a first-time user is told where they come from
    at.multiselect(key="models_kind").set_value(["local"]).run()
    assert set(at.dataframe[0].value["id"]) == {"moe", "tiny"}
    at.multiselect(key="models_size").set_value(["30–70B"]).run()
    assert list(at.dataframe[0].value["id"]) == ["moe"]
    at.text_input(key="models_search").input("no-such-model").run()
    assert not at.dataframe
    assert "No model matches these filters" in at.info[0].value
    at.multiselect(key="models_kind").set_value([]).run()
    at.multiselect(key="models_size").set_value([]).run()
    at.text_input(key="models_search").input("old").run()
    assert not at.dataframe
    at.toggle(key="models_retired").set_value(True).run()
    assert list(at.dataframe[0].value["id"]) == ["old"]
    assert not at.exception


def test_empty_catalog(start_app):
    at = start_app({"models": {}}, {})
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert "The catalog is empty" in at.info[0].value


def test_an_unreadable_database_still_shows_the_catalog(start_app, monkeypatch):
    import sqlalchemy as sa

    from bakeoff.store import model_stats

    def broken(store):
        raise sa.exc.OperationalError("SELECT ...", {}, Exception("server at db.internal:5432 refused"))

    monkeypatch.setattr(model_stats, "measured_stats", broken)
    at = start_app(MODELS, PRICING)
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert "Could not read measured figures from the database (OperationalError)" in at.warning[0].value
    assert "db.internal" not in at.warning[0].value
    assert set(at.dataframe[0].value["id"]) == {"alpha", "moe", "tiny"}
