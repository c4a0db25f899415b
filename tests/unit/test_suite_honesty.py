"""The test suite keeps its own rules: skips go through the switch, nothing is left to chance.

* A test that cannot find its server or tool skips on a laptop and FAILS in CI. The one way to
  skip is tests/support/require.py (``need``, ``have``, ``missing``), which reads
  ``AVSTEG_REQUIRE_SERVERS``; ``scripts/test`` (= CI) sets it.
* ``pytest.importorskip`` of our own modules would turn a broken import into a skip: banned.
* Random input comes from seeded generators; Hypothesis runs derandomized.

The checks read the test modules' syntax trees, so they see every call, not a grep's guess.
"""
from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support import require

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
SWITCH_MODULE = TESTS / "support" / "require.py"
GLOBAL_RANDOM = {"random", "randint", "randrange", "choice", "choices", "shuffle", "sample",
                 "uniform", "randbytes", "getrandbits", "gauss"}


def _dotted(node: ast.AST) -> str:
    """``pytest.mark.skipif`` for the expression ``pytest.mark.skipif`` (else "")."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def violations(source: str) -> list[str]:
    """What in this test module's source dodges the switch or the fixed seeds."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("pytest", "unittest"):
            for alias in node.names:
                if alias.name in ("skip", "importorskip", "skipTest"):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
        if isinstance(node, ast.Attribute):
            name = _dotted(node)
            if name in ("pytest.mark.skip", "pytest.mark.skipif", "unittest.skip",
                        "unittest.skipIf", "unittest.skipUnless"):
                found.append(f"line {node.lineno}: {name} (use tests.support.require)")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name == "pytest.skip":
            found.append(f"line {node.lineno}: pytest.skip() (use tests.support.require.missing)")
        elif name.endswith("importorskip"):
            first = node.args[0] if node.args else None
            module = first.value if isinstance(first, ast.Constant) else None
            if not isinstance(module, str) or module.split(".")[0] in ("avsteg", "tests"):
                found.append(f"line {node.lineno}: importorskip({module!r}) of our own code")
        elif name == "time.time" and _inside_seed(tree, node):
            found.append(f"line {node.lineno}: a seed taken from the clock")
        elif name == "os.urandom":
            found.append(f"line {node.lineno}: os.urandom (use random.Random(seed).randbytes)")
        elif name == "random.Random" and not node.args and not node.keywords:
            found.append(f"line {node.lineno}: random.Random() without a seed")
        elif name.startswith("random.") and name.split(".", 1)[1] in GLOBAL_RANDOM:
            found.append(f"line {node.lineno}: {name}() on the unseeded global generator")
    return found


def _inside_seed(tree: ast.AST, call: ast.Call) -> bool:
    """True when ``call`` is part of an assignment to a name containing "seed"."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and "seed" in t.id.lower() for t in node.targets):
            if any(sub is call for sub in ast.walk(node.value)):
                return True
    return False


def _test_modules() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p != SWITCH_MODULE)


def test_no_test_module_skips_past_the_switch_or_leaves_input_to_chance():
    report = {}
    for path in _test_modules():
        found = violations(path.read_text(encoding="utf-8"))
        if found:
            report[str(path.relative_to(REPO))] = found
    assert report == {}


@pytest.mark.parametrize("snippet", [
    "import pytest\npytest.importorskip('avsteg.domain.validation')",
    "import pytest\nfill = pytest.importorskip('tests.support.fill')",
    "from pytest import importorskip\nimportorskip('avsteg')",
    "import pytest\nif True:\n    pytest.skip('no soffice')",
    "import pytest\n@pytest.mark.skipif(True, reason='x')\ndef test_x(): pass",
    "import pytest\npytestmark = [pytest.mark.skip]",
    "import os, time\nseed = int(os.environ.get('S') or time.time())",
    "import os\nnoise = os.urandom(10)",
    "import random\nrng = random.Random()",
    "import random\nx = random.randint(1, 6)",
])
def test_the_checker_sees_each_kind_of_dodge(snippet):
    assert violations(snippet), snippet


def test_the_checker_leaves_honest_code_alone():
    honest = (
        "import pytest, random\n"
        "docx = pytest.importorskip('docx')\n"  # a third-party extra: not our code
        "rng = random.Random(7)\n"
        "with pytest.raises(pytest.skip.Exception): pass\n"
    )
    assert violations(honest) == []


def test_the_switch_turns_a_missing_tool_from_a_skip_into_a_failure(monkeypatch):
    monkeypatch.delenv(require.SWITCH, raising=False)
    with pytest.raises(pytest.skip.Exception, match="not found: checks the switch"):
        require.need("avsteg-no-such-tool", "checks the switch")
    assert require.have("avsteg-no-such-tool", "checks the switch") is False

    monkeypatch.setenv(require.SWITCH, "1")
    with pytest.raises(pytest.fail.Exception, match="AVSTEG_REQUIRE_SERVERS=1"):
        require.need("avsteg-no-such-tool", "checks the switch")
    with pytest.raises(pytest.fail.Exception):
        require.have(["avsteg-no-such-tool", "avsteg-nor-this"], "checks the switch")
    with pytest.raises(pytest.fail.Exception):
        require.need_path("/nonexistent/avsteg", "checks the switch")
    assert require.need(Path(sys.executable).name, "is here").endswith(Path(sys.executable).name)


def test_ci_runs_the_suite_with_the_switch_on():
    script = (REPO / "scripts" / "test").read_text(encoding="utf-8")
    pytest_lines = [line for line in script.splitlines() if "-m pytest" in line
                    and not line.lstrip().startswith("#")]
    assert pytest_lines and all("AVSTEG_REQUIRE_SERVERS=1" in line for line in pytest_lines)
    assert "AVSTEG_REQUIRE_POSTGRES" not in script  # one switch, not one per server
    assert "scripts/test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_hypothesis_is_derandomized_unless_asked_otherwise():
    if os.environ.get("HYPOTHESIS_PROFILE", "avsteg") != "avsteg":
        pytest.fail("run the suite with the default Hypothesis profile")  # never a silent skip
    assert settings.default.derandomize is True and settings.default.database is None

