"""The newest-SDKs report (faultfirst.maintain.newest_sdks), tested on canned pytest results.

A real run upgrades the lock and executes every lesson (minutes, and PyPI); these tests feed the report
logic the JUnit XML pytest writes, so they are offline and take milliseconds. The one subprocess test
exports a two-file git repository.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from faultfirst.maintain import newest_sdks
from faultfirst.maintain.newest_sdks import (
    Report,
    RunFailed,
    compare,
    exit_status,
    fact_names,
    locked_versions,
    parse_junit,
    render_markdown,
    render_text,
)

ROOT = Path(__file__).resolve().parents[1]
BEFORE = {"openai": "3.57.0", "anthropic": "2.14.0"}
AFTER = {"openai": "3.60.0", "anthropic": "2.16.0"}
BACKOFF = "tests/test_sdk_facts.py::test_backoff_formula"


def junit(*cases: str) -> str:
    return f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{"".join(cases)}</testsuite></testsuites>'


def case(classname: str, name: str, body: str = "") -> str:
    return f'<testcase classname="{classname}" name="{name}" time="0.01">{body}</testcase>'


def failure(text: str) -> str:
    return f'<failure message="boom">{text}</failure>'


LOCKED_RUN = junit(case("tests.test_sdk_facts", "test_backoff_formula[openai]"),
                   case("tests.test_sdk_facts", "test_backoff_formula[anthropic]"),
                   case("tests.test_sdk_facts", "test_long_retry_after"))
NEWEST_RUN = junit(case("tests.test_sdk_facts", "test_backoff_formula[openai]",
                        failure("AssertionError: delays == [0.5, 1.0]\n#x1B[91m+ [0.5, 1.0, 2.0]#x1B[0m")),
                   case("tests.test_sdk_facts", "test_backoff_formula[anthropic]"),
                   case("tests.test_sdk_facts", "test_long_retry_after"),
                   case("solutions.tier2.retries.ipynb", "Cell 3"),
                   case("solutions.tier2.retries.ipynb", "Cell 7", failure("Notebook cell output differs\n-3\n+4")),
                   case("solutions.tier2.retries.ipynb", "Cell 9", failure("differs")),
                   case("solutions.tier1.first-calls.ipynb", "Cell 2"))


def report() -> Report:
    return compare(BEFORE, AFTER, parse_junit(LOCKED_RUN), parse_junit(NEWEST_RUN), fact_names(ROOT))


def test_junit_results_get_pytest_node_ids_outcomes_and_plain_messages():
    """Test functions and nbval cells get their pytest node ids; skips, errors and a file that failed to collect too."""
    results = parse_junit(NEWEST_RUN + "")[:5] + parse_junit(junit(
        case("tests.test_sdk_facts_hedging", "test_x", '<skipped message="no"/>'),
        case("", "tests.test_sdk_facts_tokens", '<error message="ImportError">ImportError: cannot import</error>')))
    assert [(r.nodeid, r.outcome) for r in results] == [
        ("tests/test_sdk_facts.py::test_backoff_formula[openai]", "failed"),
        ("tests/test_sdk_facts.py::test_backoff_formula[anthropic]", "passed"),
        ("tests/test_sdk_facts.py::test_long_retry_after", "passed"),
        ("solutions/tier2/retries.ipynb::Cell 3", "passed"),
        ("solutions/tier2/retries.ipynb::Cell 7", "failed"),
        ("tests/test_sdk_facts_hedging.py::test_x", "skipped"),
        ("tests/test_sdk_facts_tokens.py", "error"),
    ]
    assert results[0].message == "AssertionError: delays == [0.5, 1.0]\n+ [0.5, 1.0, 2.0]"  # colours gone (ESC is #x1B)
    assert parse_junit(junit(case("solutions.tier1.first-calls.ipynb", "Cell 2")))[0].notebook == \
        "solutions/tier1/first-calls.ipynb"


def test_only_the_facts_whose_outcome_changed_are_reported_each_named_by_its_docstring():
    """The one parametrized case that flipped is listed with the fact its test pins; the unchanged ones are not."""
    changes = report().facts
    assert [(c.nodeid, c.before, c.after) for c in changes] == [(f"{BACKOFF}[openai]", "passed", "failed")]
    assert changes[0].fact == "Back-off is min(0.5 * 2**n, 8) s times (1 - 0.25 * random())."
    assert "AssertionError" in changes[0].message


def test_a_fact_test_that_now_fails_to_run_counts_as_changed():
    """A fact file that no longer imports (the SDK renamed a module) reports its tests as changed, not as nothing."""
    broken = junit(case("", "tests.test_sdk_facts", '<error message="ImportError">ImportError</error>'))
    changes = compare(BEFORE, AFTER, parse_junit(LOCKED_RUN), parse_junit(broken), {}).facts
    assert {(c.nodeid, c.before, c.after) for c in changes} >= {
        (f"{BACKOFF}[openai]", "passed", "absent"), ("tests/test_sdk_facts.py", "absent", "error")}


def test_notebooks_whose_outputs_differ_are_grouped_with_their_cells():
    assert {notebook: [cell.name for cell in cells] for notebook, cells in report().notebooks.items()} == {
        "solutions/tier2/retries.ipynb": ["Cell 7", "Cell 9"]}


def test_exit_status_is_nonzero_exactly_when_something_changed():
    assert exit_status(report()) == 1
    calm = compare(BEFORE, AFTER, parse_junit(LOCKED_RUN), parse_junit(LOCKED_RUN), {})
    assert exit_status(calm) == 0 and not calm.facts and not calm.notebooks
    assert "Nothing changed: all 3 SDK-fact tests keep their outcome" in render_text(calm)
    assert exit_status(Report(BEFORE, dict(BEFORE))) == 0
    assert "already holds the newest releases" in render_text(Report(BEFORE, dict(BEFORE)))


def test_text_report_gives_versions_facts_and_notebooks():
    text = render_text(report())
    assert "openai: 3.57.0 -> 3.60.0" in text and "anthropic: 2.14.0 -> 2.16.0" in text
    assert f"passed -> failed  {BACKOFF}[openai]" in text
    assert "fact: Back-off is min(0.5 * 2**n, 8) s" in text
    assert "solutions/tier2/retries.ipynb: Cell 7, Cell 9" in text


def test_markdown_report_is_an_issue_body_that_no_test_output_can_break():
    """Versions table, fact table, notebook list; pipes and HTML in a fact or message never escape their cell or
    block."""
    hostile = Report(BEFORE, AFTER, facts=[newest_sdks.FactChange(
        "tests/test_sdk_facts.py::test_a", "a | b <script>x</script>", "passed", "failed", "```\n<img src=x>")])
    markdown = render_markdown(hostile)
    assert "| `openai` | 3.57.0 | 3.60.0 |" in markdown
    assert "| passed | failed | a \\| b &lt;script&gt;x&lt;/script&gt; |" in markdown
    block = markdown.split("````\n")  # a fence longer than the message's own run of three backticks
    assert len(block) == 3 and block[1] == "```\n<img src=x>\n"
    full = render_markdown(report())
    assert "- `solutions/tier2/retries.ipynb`: Cell 7, Cell 9" in full
    assert "Notebook cell output differs\n-3\n+4" in full and "faultfirst.maintain.newest_sdks" in full


def test_every_sdk_fact_test_in_the_repository_has_a_fact():
    """The names the report uses come from the real test files: every fact test has a docstring to quote."""
    facts = fact_names(ROOT)
    assert len(facts) >= 100 and all(key.startswith("tests/test_sdk_facts") for key in facts)
    assert facts[BACKOFF].startswith("Back-off is min(0.5 * 2**n, 8) s")
    undocumented = [key for key, fact in facts.items() if fact == key.split("::")[1].removeprefix("test_")
                    .replace("_", " ")]
    assert not undocumented, f"give these SDK-fact tests a docstring that states the fact: {undocumented}"


def test_locked_versions_reads_uv_lock_and_names_what_is_missing():
    lock = '[[package]]\nname = "openai"\nversion = "3.57.0"\n\n[[package]]\nname = "anthropic"\nversion = "2.14.0"\n'
    assert locked_versions(lock) == BEFORE
    assert locked_versions((ROOT / "uv.lock").read_text()).keys() == BEFORE.keys()
    with pytest.raises(RunFailed, match="pins no anthropic"):
        locked_versions(lock.split("\n\n")[0])


def test_export_takes_the_committed_tree_not_the_working_copy(tmp_path):
    """The run works on HEAD: an uncommitted edit (or a lock being changed by hand) never reaches the copy."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "uv.lock").write_text("committed\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "uv.lock"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "lock"], check=True)
    (repo / "uv.lock").write_text("edited\n")
    newest_sdks.export_head(repo, tmp_path / "copy")
    assert (tmp_path / "copy" / "uv.lock").read_text() == "committed\n"
    assert (repo / "uv.lock").read_text() == "edited\n"


def test_a_failed_step_exits_2_with_a_clear_message(monkeypatch, capsys):
    """A lock or sync failure is no SDK news: exit 2, say so, print no report."""
    def failing(root, work):
        raise RunFailed("uv lock --upgrade-package failed (exit 1): uv lock")
    monkeypatch.setattr(newest_sdks, "run", failing)
    assert newest_sdks.main(["--format", "markdown"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "uv lock --upgrade-package failed" in err and "nothing was reported" in err


def test_the_newest_run_hides_sdk_versions_and_keeps_the_committed_rules():
    """A lesson that prints the SDKs' versions (tier2/timeouts) would differ under every upgrade, so the newest
    run's nbval rules map any version to one word; the committed rules stay, and other numbers are untouched."""
    import re

    from nbval.plugin import get_sanitize_patterns

    rules = get_sanitize_patterns(newest_sdks.sanitize_rules(ROOT))  # read as nbval reads the file
    assert ("0x[0-9a-fA-F]{6,}", "0xADDRESS") in rules and len(rules) == 2

    def sanitise(text: str) -> str:
        for regex, replace in rules:  # as nbval applies them
            text = re.sub(regex, replace, text)
        return text

    locked = "openai 3.57.0: timeout=Timeout(connect=5.0, read=600), max_retries=2\nanthropic 2.14.0: x"
    newest = "openai 3.60.0: timeout=Timeout(connect=5.0, read=600), max_retries=2\nanthropic 2.16.0rc1: x"
    assert sanitise(locked) == sanitise(newest) == (
        "openai VERSION: timeout=Timeout(connect=5.0, read=600), max_retries=2\nanthropic VERSION: x")
    assert sanitise("openai 3.60.0: max_retries=3") != sanitise("openai 3.57.0: max_retries=2")
