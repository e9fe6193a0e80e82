"""What `mediaworker demo` prints: each upload and each job with its outcome, and every file
it made with its size and full path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mediaworker.cli.output import console


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
    name = view["original_filename"]
    if view["status"] != "READY":
        console.print(
            f"[bold]{name}[/bold]  [red]{view['status']} {view['error_code']}[/red]: "
            f"{view['error_message']}",
            soft_wrap=True,
        )
        return
    facts = [view["kind"], _dimensions(view)]
    if view.get("duration_s"):
        facts.append(f"{view['duration_s']:.1f} s")
    if view.get("blurhash"):
        facts.append(f"blurhash {view['blurhash']}")
    shown = "  ".join(f for f in facts if f)
    console.print(f"[bold]{name}[/bold]  [green]READY[/green]  {shown}", soft_wrap=True)
    for d in view["derivatives"]:
        if d["storage_key"] in skip:
            continue
        _file_line(d["type"], root, d["storage_key"], d["size_bytes"], _dimensions(d))


def print_job(title: str, job: Any, root: Path) -> None:
    """A job of the demo: its files when it succeeded, else its error code and message."""
    if job is None or job.status != "succeeded":
        code = "NOT RUN" if job is None else f"{job.status.upper()} {job.error_code}"
        message = "" if job is None else f": {job.error_message}"
        console.print(f"[bold]{title}[/bold]  [red]{code}[/red]{message}", soft_wrap=True)
        return
    result = job.result or {}
    note = ""
    if result.get("synthetic"):
        note = "  [yellow]SYNTHETIC: a labelled placeholder, no model ran (offline)[/yellow]"
    model = f"{result.get('provider', '')} {result.get('model', '')}".strip()
    if result.get("size_m"):
        model = "{:.2f} x {:.2f} x {:.3f} m".format(*result["size_m"])
    console.print(f"[bold]{title}[/bold]  [green]DONE[/green]  {model}{note}", soft_wrap=True)
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
        console.print(f"[bold]transcript of {name}[/bold]  [red]none[/red]")
        return
    t = active[0]
    console.print(
        f"[bold]transcript of {name}[/bold]  {t.provider} {t.model}: {t.text!r}\n"
        f"  (espeak-ng said {spoken!r}; the offline recogniser hears synthetic speech poorly)",
        soft_wrap=True,
    )


def print_photo(view: dict[str, Any], inventory: dict[str, Any] | None) -> None:
    items = (view.get("analysis") or {}).get("items") or []
    method = f"{view.get('method')} {view.get('provider')} {view.get('model')}"
    console.print(
        f"[bold]photo analysis[/bold]  {view['status']}  {method}: room "
        f"{view.get('room_type')}, {len(items)} item(s)",
        soft_wrap=True,
    )
    if inventory is not None:
        result = inventory["result"]
        console.print(
            f"[bold]inventory {inventory['project_id']}[/bold]  {result['totalItems']} item(s), "
            f"{result['totalVolume']} m3 from {result['photos']['total']} photo(s)",
            soft_wrap=True,
        )
