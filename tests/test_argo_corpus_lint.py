"""Argo's own example manifests (../shared/argo-examples) as a positive corpus: every Argo-kind document lints
clean, or is refused with an explicit "not supported yet". Each file is linted alone, as the corpus report does."""

from __future__ import annotations

from pathlib import Path

import pytest

from webhook.lint import lint

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "argo-examples"
FILES = sorted(CORPUS.rglob("*.yaml")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not FILES, reason="../shared/argo-examples is not available")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) if FILES else "" for p in FILES])
def test_argo_example_lints_clean_or_is_explicitly_not_supported(path: Path) -> None:
    report = lint([(str(path), path.read_text(encoding="utf-8"))])
    rejected = [f.text() for f in report.errors]
    if rejected:
        assert any("not supported yet by Trellis" in f.message for f in report.errors), rejected


@pytest.mark.skipif(not FILES, reason="../shared/argo-examples is not available")
def test_most_of_the_corpus_lints_clean() -> None:
    clean = sum(1 for p in FILES if lint([(str(p), p.read_text(encoding="utf-8"))]).ok)
    assert clean >= 168, f"{clean} of {len(FILES)} clean"


@pytest.mark.skipif(not FILES, reason="../shared/argo-examples is not available")
def test_the_whole_corpus_linted_at_once_resolves_its_templates_across_files() -> None:
    report = lint([(str(p), p.read_text(encoding="utf-8")) for p in FILES])
    assert [f.text() for f in report.errors if "not supported yet by Trellis" not in f.message] == []
    assert not any("is not among the linted files" in f.message for f in report.warnings)
