"""charts/dubbing/README.md is generated from values.yaml's `# --` comments: up to date, and every value described."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.shipping.conftest import CHART, REPO
from tools import gen_chart_readme as gen

SCRIPT = REPO / "tools" / "gen_chart_readme.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def _chart_copy(tmp_path: Path) -> Path:
    chart = tmp_path / "dubbing"
    chart.mkdir()
    for name in ("Chart.yaml", "values.yaml", "README.md"):
        shutil.copy(CHART / name, chart / name)
    return chart


def _leaves(node, path=()):
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, path + (key,))
        else:
            yield ".".join(path + (key,))


def test_readme_is_up_to_date():
    proc = _run("--check")
    assert proc.returncode == 0, proc.stderr


def test_every_value_is_described():
    text = (CHART / "values.yaml").read_text()
    rows, errors = gen.values_rows(text)
    assert errors == []
    documented = {r.key for r in rows}
    for leaf in _leaves(yaml.safe_load(text)):
        parts = leaf.split(".")
        assert any(".".join(parts[:n]) in documented for n in range(1, len(parts) + 1)), f"{leaf} is in no README row"
    assert all(r.description for r in rows)
    readme = (CHART / "README.md").read_text()
    for row in rows:
        assert f"| `{row.key}` |" in readme


def test_a_stale_readme_fails_the_check(tmp_path):
    chart = _chart_copy(tmp_path)
    readme = chart / "README.md"
    readme.write_text(readme.read_text().replace("| `webui.port` | int | `8000` |", "| `webui.port` | int | `8080` |"))
    proc = _run("--check", "--chart", str(chart))
    assert proc.returncode == 1 and "README.md is stale" in proc.stderr, proc.stderr
    assert _run("--chart", str(chart)).returncode == 0
    assert (chart / "README.md").read_text() == (CHART / "README.md").read_text()


def test_a_value_without_description_fails_the_check(tmp_path):
    chart = _chart_copy(tmp_path)
    values = chart / "values.yaml"
    values.write_text(
        values.read_text().replace("  maxUploadMiB: 4096\n", "  maxUploadMiB: 4096\n  uploadTimeout: 30\n")
    )
    for args in (["--check"], []):
        proc = _run(*args, "--chart", str(chart))
        assert proc.returncode == 1, proc.stderr
        assert "webui.uploadTimeout has no `# --` description" in proc.stderr, proc.stderr
        assert f"{values}:" in proc.stderr
    assert (chart / "README.md").read_text() == (CHART / "README.md").read_text(), "no README from incomplete docs"


SAMPLE = """\
# A plain comment, not a description.
# -- First line,
# second line.
plain: 1
group:
  # -- (list of str) Type given by hand.
  names: []
  # -- Described as a whole.
  # @default -- see the docs
  whole:
    a: 1
    b: {c: 2}
  items:
    # -- Described.
    - name: x
      value: y
"""


def test_comment_conventions():
    rows, errors = gen.values_rows(SAMPLE)
    assert [(r.key, r.type, r.default, r.description) for r in rows] == [
        ("plain", "int", "`1`", "First line, second line."),
        ("group.names", "list of str", "`[]`", "Type given by hand."),
        ("group.whole", "object", "see the docs", "Described as a whole."),
    ]
    # The `# --` above a list item describes no key, and group.items lacks its own.
    assert errors == ["13: group.items has no `# --` description", "14: a `# --` comment that describes no key"]


def test_a_description_inside_a_described_mapping_is_refused():
    text = "# -- The whole.\nouter:\n  # -- A part.\n  inner: 1\n"
    rows, errors = gen.values_rows(text)
    assert [r.key for r in rows] == ["outer"]
    assert errors == ["3: outer.inner is described, but outer is described as a whole (describe one or the other)"]


def test_a_dangling_description_is_refused():
    rows, errors = gen.values_rows("# -- Nothing below.\n\nkey: 1\n")
    assert "1: a `# --` comment that describes no key" in errors


def test_cells_escape_pipes_and_html():
    assert gen._cell("a | b <x> `<y>`") == "a \\| b &lt;x&gt; `<y>`"
