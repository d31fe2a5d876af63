"""The shareable report: one self-contained HTML file per run or batch, untrusted text inert, nothing external."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from bakeoff import cli, report
from bakeoff.batch.input import parse_items
from bakeoff.batch.runner import Batch, run_batch_blocking
from bakeoff.records import Judgment, Params, Run, Vote
from bakeoff.runner.engine import run_blocking
from metrics.assertions import Assertion
from tests.conftest import scripted_catalog

HOSTILE = (
    '<script>window.pwned=1</script> then "><img src=x onerror=alert(1)> and <a href="https://evil.example">x</a>'
    " <iframe src=https://evil.example/f></iframe> <style>body{display:none}</style>"
    " <link rel=stylesheet href=https://evil.example/x.css> ![pixel](https://tracker.example/p.png)"
)
MODELS = {
    "alpha": {"chunks": ["Paris", " is the capital."], "usage": [12, 4], "priced": True},
    "beta": {"chunks": [HOSTILE], "kind": "local"},
    "gamma": {"fail": "AuthError", "http_status": 401},
}
CSV = b"id,prompt,reference\nq1,What is the capital of France?,Paris\nq2,What is 2+2?,4\nq3,Say hi,hi\n"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of every script."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def parse(page: str) -> Tags:
    tags = Tags()
    tags.feed(page)
    tags.close()
    return tags


def outside_scripts(page: str) -> str:
    return re.sub(r"<script>.*?</script>", "", page, flags=re.S)


def assert_offline_and_inert(page: str, charts: int) -> None:  # charts=0: no chart, so not even Plotly
    """Nothing points outside the file, and the only scripts are Plotly's and one per chart, all hashed in the CSP.

    URLs may appear as text (a model wrote them); no element, attribute or style may load or link one.
    """
    tags = parse(page)
    for tag, attrs in tags.tags:
        assert tag not in {"img", "iframe", "a", "link", "object", "embed", "form", "base", "video", "audio"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            assert name not in {"src", "href", "srcset", "action", "poster", "background", "data"}, (tag, name)
            assert "//" not in (value or ""), (tag, name, value)
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert len(styles) == 1 and not re.search(r"(?i)url\(|@import|//", styles[0])
    assert len(tags.scripts) == (1 + charts if charts else 0)
    csp = next(a["content"] for t, a in tags.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp
    for script in tags.scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp  # no other inline script or handler could run


@pytest.fixture
def stored_run(scripted, store):
    run = Run(
        prompt="Capital of France? <b>bold</b>",
        model_refs=list(MODELS),
        reference="Paris",
        params=Params(system="Be brief & <terse>", temperature=0.0),
        assertions=[Assertion("contains", "Paris")],
    )
    results = run_blocking(run, scripted_catalog(**MODELS), store)
    assert [r.status for r in results] == ["ok", "ok", "error"]
    return run, results


@pytest.fixture
def stored_batch(scripted, store):
    cat = scripted_catalog(
        alpha={"replies": [["France", "Paris"], ["2\\+2", "4"], ["hi", "hi"]], "usage": [12, 4], "priced": True},
        beta={"replies": [["France", "Lyon"], ["2\\+2", "4"], ["hi", HOSTILE]]},
    )
    batch = Batch(items=parse_items(CSV, "set.csv"), model_refs=["alpha", "beta"], repeats=2, name="capitals")
    outcome = run_batch_blocking(batch, cat, store)
    assert outcome.status == "done"
    return batch, outcome.results


def test_run_report_has_every_answer_escaped_and_the_numbers(stored_run, store):
    run, results = stored_run
    page = report.build(store, run.run_id)
    alpha, beta, gamma = results
    assert "Paris is the capital." in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page and "<script>window.pwned" not in page
    assert "AuthError: " in page  # the failed model says why
    assert "Capital of France? &lt;b&gt;bold&lt;/b&gt;" in page and "Be brief &amp; &lt;terse&gt;" in page
    text = outside_scripts(page)
    assert f'<td class="num">{alpha.ttft_s:.3f}</td>' in text and f"{alpha.e2e_s:.3f}" in text
    assert '<td class="num">12</td><td class="num">4</td><td>reported by API</td>' in text
    assert "$0.00002" in text and "2024-01-01" in text  # cost and the price row it came from
    assert f"{beta.output_tokens_per_s:.1f}" in text and "local compute" in text
    assert f'<td class="num">{alpha.scores["token_f1"]:.3f}</td>' in text
    assert "✓ pass" in text and "✗ fail" in text  # the check, per model
    assert '<td class="num">1/1</td>' in text and '<td class="num">0/1</td>' in text
    assert gamma.model_ref in text and "unpriced" in text


def test_run_report_is_offline_and_hostile_output_is_inert(stored_run, store):
    run, _ = stored_run
    page = report.build(store, run.run_id)
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in page  # Plotly inlined, no CDN
    # latency, throughput, cost, quality heat map, cost vs quality
    assert_offline_and_inert(page, charts=5)
    assert page.count('class="chart"') == 5


def test_votes_and_judge_verdicts_are_in_the_report(stored_run, store):
    run, _ = stored_run
    store.save_vote(Vote(run_id=run.run_id, model_a="alpha", model_b="beta", outcome="a", blind=True))
    for model, score in (("alpha", 9), ("beta", 2)):
        store.save_judgment(
            Judgment(
                run_id=run.run_id,
                judge_model="judge",
                mode="rubric",
                criteria={"correctness": "right?"},
                model_a=model,
                score=score,
                rationale=f"{model} <img src=x onerror=alert(1)> reasons",
                batch_id="j1",
            )
        )
    page = report.build(store, run.run_id)
    text = outside_scripts(page)
    assert "alpha better" in text and "<td>yes</td>" in text  # the blind vote
    assert "9/10" in text and "2/10" in text and "9.0/10" in text  # verdicts, and the mean in the scores table
    assert "alpha &lt;img src=x onerror=alert(1)&gt; reasons" in text
    assert_offline_and_inert(page, charts=5)


def test_without_price_or_task_score_the_report_says_so_instead_of_drawing(scripted, store):
    run = Run(prompt="hi", model_refs=["a", "b"])
    run_blocking(run, scripted_catalog(a={}, b={"chunks": ["yo"]}), store)
    text = outside_scripts(report.build(store, run.run_id))
    assert "no cost chart" in text and "no quality chart" in text
    assert text.count('class="chart"') == 2  # latency and throughput only


def test_batch_report_has_aggregates_paired_comparison_and_every_answer(stored_batch, store):
    batch, _ = stored_batch
    page = report.build(store, batch.batch_id)
    text = outside_scripts(page)
    assert "Bakeoff batch report" in text and "capitals" in text and "3 prompts × 2 models × 2 repeats" in text
    assert '<td class="num">6/6</td>' in text  # ok / cells per model
    assert '<td class="num">1 [1, 1]</td>' in text  # alpha's exact match, mean [95% CI]
    assert re.search(r"<td class=\"num\">0\.333 \[0, 0\.667\]</td>", text)  # beta's: right on 1 of 3 prompts
    assert "alpha − beta" in text and "no clear difference" in text  # 3 prompts cannot separate them
    for item_id in ("q1", "q2", "q3"):
        assert f"Item {item_id}" in text
    assert text.count(">Lyon</div>") == 2 and text.count(">Paris</div>") == 3  # 2 repeats; the reference once
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in text
    assert "$0.00012" in text and "unpriced" in text
    # one score-interval chart per range: 0-1 scores, and BLEU/chrF on 0-100
    assert_offline_and_inert(page, charts=2)


def test_a_clear_paired_difference_names_the_winner(stored_batch):
    from bakeoff.batch.results import paired
    from bakeoff.report.batch_page import _verdict

    _, results = stored_batch
    real = paired(results, "alpha", "beta", "exact_match")
    assert _verdict(real) in ("alpha better", "no clear difference")  # reads the keys paired() really returns
    pc = {**real, "ci_low": 0.2, "ci_high": 0.6, "higher_is_better": True, "a": "a", "b": "b"}
    assert _verdict(pc) == "a better"
    assert _verdict({**pc, "higher_is_better": False}) == "b better"  # A took longer
    assert _verdict({**pc, "ci_low": -0.1}) == "no clear difference"
    assert _verdict({**pc, "ci_low": None, "ci_high": None}) == "too few prompts"


# ---- CLI --------------------------------------------------------------------------------------------------------


def _db(store) -> str:
    return store.display_url.removeprefix("sqlite:///")


def test_cli_writes_a_run_report(stored_run, store, tmp_path, capsys):
    run, _ = stored_run
    out = tmp_path / "out.html"
    assert cli.main(["--db", _db(store), "report", run.run_id, "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Paris is the capital." in page and run.run_id in page
    assert "wrote" in capsys.readouterr().out


def test_cli_writes_a_batch_report_to_stdout(stored_batch, store, capsysbinary):
    batch, _ = stored_batch
    assert cli.main(["--db", _db(store), "report", batch.batch_id, "--html", "-"]) == 0
    page = capsysbinary.readouterr().out.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert f"Batch {batch.batch_id}" in page


def test_cli_unknown_id_or_unwritable_file_exits_2(stored_run, store, tmp_path, capsys):
    assert cli.main(["--db", _db(store), "report", "nope", "--html", str(tmp_path / "x.html")]) == 2
    assert "no run or batch with id 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
    run, _ = stored_run
    assert cli.main(["--db", _db(store), "report", run.run_id, "--html", str(tmp_path / "no" / "x.html")]) == 2
    assert "cannot write the report" in capsys.readouterr().err


def test_a_run_or_batch_with_no_answer_yet_still_makes_a_report():
    page = report.run_html(Run(prompt="p", model_refs=["a"], status="interrupted"), [])
    assert "status interrupted" in page and "0 models" in page
    assert_offline_and_inert(page, charts=0)
    assert "script-src 'none'" in page.replace("&#x27;", "'")
    batch = Batch(items=parse_items(CSV, "set.csv"), model_refs=["a", "b"])
    page = report.batch_html(batch, [])
    assert "No cell of this prompt has finished." in page and "0 cells" in page


def test_a_pairwise_verdict_names_the_winner(stored_run):
    run, results = stored_run
    verdict = Judgment(run_id=run.run_id, judge_model="judge", mode="pairwise", criteria={}, model_a="alpha",
                       model_b="beta", verdict="b", consistent=False)  # fmt: skip
    text = outside_scripts(report.run_html(run, results, judgments=[verdict]))
    assert "alpha vs beta" in text and "beta better (the two orders disagreed)" in text
