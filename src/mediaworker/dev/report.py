"""What `mediaworker demo` prints: each upload and each job with its outcome, and every file
it made with its size and full path. Lines with colour read markup; every value in them that
comes from a file, a row or a model is escaped first (`_e`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape

from mediaworker.cli.output import console


def _e(value: object) -> str:
    return escape(str(value))


def _say(text: str) -> None:
    console.print(text, soft_wrap=True, markup=True)


def _file_line(label: str, root: Path, key: str, size_bytes: int | None, extra: str = "") -> None:
    path = root / key
    if size_bytes is None and path.is_file():
        size_bytes = path.stat().st_size
    size = "?" if size_bytes is None else f"{size_bytes / 1024:.0f} KiB"
    console.print(f"  {label:<16} {extra:<11} {size:>9}  {path}", soft_wrap=True, highlight=False)


def _dimensions(row: dict[str, Any]) -> str:
    return f"{row['width']}x{row['height']}" if row.get("width") else ""


def print_upload(view: dict[str, Any], root: Path, *, skip: frozenset[str] = frozenset()) -> None:
    """One line per upload (its facts or its error), then one per output (but those whose
    storage keys are in `skip`: a job's, printed with the job)."""
    name = _e(view["original_filename"])
    if view["status"] != "READY":
        _say(
            f"[bold]{name}[/bold]  [red]{_e(view['status'])} {_e(view['error_code'])}[/red]: "
            f"{_e(view['error_message'])}"
        )
        return
    facts = [view["kind"], _dimensions(view)]
    if view.get("duration_s"):
        facts.append(f"{view['duration_s']:.1f} s")
    if view.get("blurhash"):
        facts.append(f"blurhash {view['blurhash']}")
    shown = "  ".join(f for f in facts if f)
    _say(f"[bold]{name}[/bold]  [green]READY[/green]  {_e(shown)}")
    for d in view["derivatives"]:
        if d["storage_key"] in skip:
            continue
        _file_line(d["type"], root, d["storage_key"], d["size_bytes"], _dimensions(d))


def print_job(title: str, job: Any, root: Path) -> None:
    """A job of the demo: its files when it succeeded, else its error code and message."""
    if job is None or job.status != "succeeded":
        code = "NOT RUN" if job is None else f"{job.status.upper()} {job.error_code}"
        message = "" if job is None else f": {job.error_message}"
        _say(f"[bold]{_e(title)}[/bold]  [red]{_e(code)}[/red]{_e(message)}")
        return
    result = job.result or {}
    note = ""
    if result.get("synthetic"):
        note = "  [yellow]SYNTHETIC: a labelled placeholder, no model ran (offline)[/yellow]"
    model = f"{result.get('provider', '')} {result.get('model', '')}".strip()
    if result.get("size_m"):
        model = "{:.2f} x {:.2f} x {:.3f} m".format(*result["size_m"])
    _say(f"[bold]{_e(title)}[/bold]  [green]DONE[/green]  {_e(model)}{note}")
    for d in result.get("derivatives") or []:
        _file_line(d["type"], root, d["storage_key"], d["size_bytes"], _dimensions(d))
    if result.get("storage_key"):
        _file_line("file", root, result["storage_key"], result.get("size_bytes"))


def job_files(job: Any) -> frozenset[str]:
    """The storage keys of a job's files (as print_job shows them)."""
    result = (job.result or {}) if job is not None else {}
    keys = {d["storage_key"] for d in result.get("derivatives") or []}
    return frozenset(keys | ({result["storage_key"]} if result.get("storage_key") else set()))


def print_transcript(name: str, spoken: str, transcripts: list[Any]) -> None:
    active = [t for t in transcripts if t.active]
    if not active:
        _say(f"[bold]transcript of {_e(name)}[/bold]  [red]none[/red]")
        return
    t = active[0]
    _say(
        f"[bold]transcript of {_e(name)}[/bold]  {_e(t.provider)} {_e(t.model)}: "
        f"{_e(repr(t.text))}\n  (espeak-ng said {_e(repr(spoken))}; the offline recogniser "
        "hears synthetic speech poorly)"
    )


def print_photo(view: dict[str, Any], inventory: dict[str, Any] | None) -> None:
    items = (view.get("analysis") or {}).get("items") or []
    method = f"{view.get('method')} {view.get('provider')} {view.get('model')}"
    _say(
        f"[bold]photo analysis[/bold]  {_e(view['status'])}  {_e(method)}: room "
        f"{_e(view.get('room_type'))}, {len(items)} item(s)"
    )
    if inventory is not None:
        result = inventory["result"]
        _say(
            f"[bold]inventory {_e(inventory['project_id'])}[/bold]  {result['totalItems']} "
            f"item(s), {result['totalVolume']} m3 from {result['photos']['total']} photo(s)"
        )
