"""``scenewatch review list|mark|correct``: say what the timeline got right or wrong, beside the original."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from scenewatch.cli.common import ConfigOption, DbOption, JsonOption, build_config, console, print_json
from scenewatch.errors import ConfigError

review_app = typer.Typer(help="Mark events, tracks and answers correct or wrong, or correct them.",
                         no_args_is_help=True)

TARGETS = {"event": "event", "track": "observation", "observation": "observation", "row": "observation",
           "answer": "answer"}
TargetArg = typer.Argument(..., help="event | track (any timeline row) | answer")
IdArg = typer.Argument(..., help="event or row id (`scenewatch timeline --json`); '-' for an answer")
QuestionOption = typer.Option(None, "--question", help="The question (answers only).")
AnswerOption = typer.Option(None, "--answer", help="The answer as given (answers only).")
EvidenceOption = typer.Option(None, "--evidence", help="Row ids the answer cited, comma-separated.")
NoteOption = typer.Option("", "--note", help="Free text kept with the review.")


def _target(name: str) -> Any:
    if name.lower() not in TARGETS:
        raise ConfigError(f"review target {name!r}: use event, track or answer")
    return TARGETS[name.lower()]


def _id(text: str, target: str) -> int | None:
    if target == "answer":
        return None
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{target} id {text!r} is not a number") from None


def _ints(text: str | None) -> list[int]:
    return [int(v) for v in (text or "").replace(" ", "").split(",") if v]


def _box(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    parts = [p for p in text.replace("[", "").replace("]", "").replace(" ", "").split(",") if p]
    if len(parts) != 4:
        raise ConfigError(f"--box {text!r}: give x1,y1,x2,y2 in pixels")
    x1, y1, x2, y2 = (float(p) for p in parts)
    return (x1, y1, x2, y2)


def _show(review: Any, as_json: bool) -> None:
    if as_json:
        print_json(asdict(review))
        return
    what = review.target if review.target_id is None else f"{review.target} {review.target_id}"
    console.print(f"review {review.id}: {what} marked [bold]{review.verdict}[/]", highlight=False)


@review_app.command("mark")
def mark_command(
    target: str = TargetArg,
    target_id: str = IdArg,
    verdict: str = typer.Argument(..., help="correct | wrong"),
    question: str | None = QuestionOption,
    answer: str | None = AnswerOption,
    evidence: str | None = EvidenceOption,
    note: str = NoteOption,
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Mark an event, a track or an answer correct or wrong."""
    from scenewatch.runtime import training_service

    if verdict not in ("correct", "wrong"):
        raise ConfigError(f"verdict {verdict!r}: use correct or wrong (or `review correct` to fix values)")
    kind = _target(target)
    cfg = build_config(config, db)
    r = training_service.review(cfg, kind, _id(target_id, kind), verdict,  # type: ignore[arg-type]
                                question=question, answer=answer, evidence=_ints(evidence), note=note)
    _show(r, as_json)


@review_app.command("correct")
def correct_command(
    target: str = TargetArg,
    target_id: str = IdArg,
    label: str | None = typer.Option(None, "--label", help="The right label."),
    start: float | None = typer.Option(None, "--start", help="The right start, media seconds."),
    end: float | None = typer.Option(None, "--end", help="The right end, media seconds."),
    box: str | None = typer.Option(None, "--box", help="The right box: x1,y1,x2,y2 pixels."),
    text: str | None = typer.Option(None, "--text", help="The right text (OCR, transcript or answer)."),
    question: str | None = QuestionOption,
    answer: str | None = AnswerOption,
    evidence: str | None = EvidenceOption,
    note: str = NoteOption,
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Store corrected values beside an event, a track or an answer (the original is kept)."""
    from scenewatch.runtime import training_service
    from scenewatch.runtime.training_service import Correction

    kind = _target(target)
    correction = Correction(label=label, start=start, end=end, box=_box(box), text=text)
    if correction.is_empty():
        raise ConfigError("nothing to correct: give --label, --start, --end, --box or --text")
    cfg = build_config(config, db)
    r = training_service.review(cfg, kind, _id(target_id, kind), None, correction,
                                question=question, answer=answer, evidence=_ints(evidence), note=note)
    _show(r, as_json)


@review_app.command("list")
def list_command(
    target: str | None = typer.Option(None, "--target", help="Only event, track or answer reviews."),
    source: str | None = typer.Option(None, "--source", help="Only reviews about this source id."),
    since: str | None = typer.Option(None, "--since", help="Only reviews since (ISO time, 3d, 12h)."),
    db: Path | None = DbOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """List stored reviews, oldest first."""
    from scenewatch.runtime import training_service

    cfg = build_config(config, db)
    rows = training_service.reviews(cfg, _target(target) if target else None, source, since)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    for r in rows:
        what = r.target if r.target_id is None else f"{r.target} {r.target_id}"
        fixed = {k: v for k, v in asdict(r.correction).items() if v is not None}
        console.print(f"{r.id:4d}  {what:18s} {r.verdict:9s} {fixed or ''} {r.note}", highlight=False)
    if not rows:
        console.print("no reviews yet", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``review`` to the app."""
    app.add_typer(review_app, name="review")
