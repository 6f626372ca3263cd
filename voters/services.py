"""Writes to voters and their history: every import goes through these functions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from campaign.models import AuditAction, Campaign
from campaign.services import record_audit_event
from voters import layouts
from voters.contact_importers import run_assignment_import, run_contact_import
from voters.importers import (
    BATCH_ROWS,
    ImportFailed,
    ImportProgress,
    ImportSource,
    ProgressCallback,
    run_history_import,
    run_voter_import,
)
from voters.models import ImportKind, ImportMode, ImportRun, ImportStatus, RejectedRow

logger = logging.getLogger(__name__)

PROGRESS_TTL_SECONDS = 24 * 3600

# How each kind of import runs (voters.importers); contacts and assignments add theirs here.
IMPORT_RUNNERS = {
    ImportKind.VOTERS: run_voter_import,
    ImportKind.HISTORY: run_history_import,
    ImportKind.CONTACTS: run_contact_import,
    ImportKind.ASSIGNMENTS: run_assignment_import,
}


def import_voter_file(
    *,
    campaign: Campaign,
    paths: Sequence[str | Path],
    layout: str = "generic",
    mode: str = ImportMode.STRICT,
    full: bool = False,
    user: AbstractBaseUser | None = None,
    display_names: Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportRun:
    """Import voter files (upsert by voter id; with `full`, voters absent are marked removed).

    Raises ImportFailed (nothing committed) on a strict import with bad rows or an unreadable file;
    the returned or raised run records what happened either way.
    """
    run = _start_run(campaign, ImportKind.VOTERS, layout, mode, full, paths, display_names, user)
    return _execute(run, _sources(paths, display_names), on_progress, batch_rows)


def import_vote_history(
    *,
    campaign: Campaign,
    paths: Sequence[str | Path],
    layout: str = "generic",
    mode: str = ImportMode.STRICT,
    user: AbstractBaseUser | None = None,
    display_names: Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportRun:
    """Import vote-history files; rows for voters not in the campaign are counted, not fatal."""
    run = _start_run(campaign, ImportKind.HISTORY, layout, mode, False, paths, display_names, user)
    return _execute(run, _sources(paths, display_names), on_progress, batch_rows)


def queue_uploaded_import(
    *,
    campaign: Campaign,
    kind: str,
    upload: UploadedFile,
    layout: str,
    mode: str,
    full: bool,
    user: AbstractBaseUser | None,
    program: str = "",
) -> ImportRun:
    """Store an admin upload and run its import on the `imports` queue once this commits.

    `program` names the program of an assignments upload (kept in the run's counts, where the
    queued run finds it, as `import_program_assignments` keeps it).
    """
    from voters.tasks import run_import_task

    _check_choice(kind, ImportKind.values, "kind")
    _check_choice(layout, UPLOAD_LAYOUTS[kind], "layout")
    counts = {}
    if kind == ImportKind.ASSIGNMENTS:
        if not program.strip():
            raise ImportFailed("an assignments upload needs the program's name")
        counts = {"program": program.strip()}
    run = ImportRun(
        campaign=campaign,
        kind=kind,
        layout=layout,
        mode=mode,
        is_full=full and kind == ImportKind.VOTERS,
        file_names=[upload.name],
        counts=counts,
        created_by=user,
    )
    run.upload.save(upload.name, upload, save=False)
    run.save()
    transaction.on_commit(lambda: run_import_task.delay(run.pk))
    return run


# Which layouts each kind of upload reads.
UPLOAD_LAYOUTS = {
    ImportKind.VOTERS: layouts.LAYOUTS,
    ImportKind.HISTORY: layouts.LAYOUTS,
    ImportKind.CONTACTS: layouts.CONTACT_LAYOUTS,
    ImportKind.ASSIGNMENTS: ("generic",),
}


def run_queued_import(*, import_run_id: int) -> ImportRun:
    """Run an import queued from an upload; a second delivery of a finished run does nothing."""
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().select_related("campaign").get(pk=import_run_id)
        # A run left "running" by a worker that died committed nothing (one transaction), so a
        # redelivery runs it again; a finished run is never run twice.
        if run.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
            return run
        run.status = ImportStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    source = ImportSource.of(run.upload.path, run.file_names[0] if run.file_names else None)
    try:
        return _execute(run, [source], _cache_progress(run.pk), BATCH_ROWS)
    except ImportFailed:
        return ImportRun.objects.get(pk=run.pk)


def import_progress(import_run_id: int) -> dict | None:
    """The latest progress of a running import, as the admin shows it."""
    return cache.get(_progress_key(import_run_id))


# --------------------------------------------------------------------------------------------


def _sources(
    paths: Sequence[str | Path], display_names: Sequence[str] | None
) -> list[ImportSource]:
    names = list(display_names) if display_names else [None] * len(paths)
    return [ImportSource.of(p, n) for p, n in zip(paths, names, strict=True)]


def _check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise ImportFailed(f"unknown {what} {value!r}; use one of: {', '.join(allowed)}")


def _start_run(
    campaign, kind, layout, mode, full, paths, display_names, user, counts=None
) -> ImportRun:
    # Each kind reads its own layouts: `nc` means nothing to contacts, `van` nothing to voters.
    _check_choice(layout, UPLOAD_LAYOUTS[kind], "layout")
    _check_choice(mode, ImportMode.values, "mode")
    names = list(display_names) if display_names else [Path(p).name for p in paths]
    return ImportRun.objects.create(
        campaign=campaign,
        kind=kind,
        layout=layout,
        mode=mode,
        is_full=full,
        file_names=names,
        counts=counts or {},
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
        created_by=user if user is not None and user.is_authenticated else None,
    )


def _execute(
    run: ImportRun,
    sources: list[ImportSource],
    on_progress: ProgressCallback | None,
    batch_rows: int,
) -> ImportRun:
    try:
        return _run_import(run, sources, on_progress, batch_rows)
    finally:
        _audit_import(run)


def _run_import(
    run: ImportRun,
    sources: list[ImportSource],
    on_progress: ProgressCallback | None,
    batch_rows: int,
) -> ImportRun:
    runner = IMPORT_RUNNERS[run.kind]
    logger.info("import %s started: campaign=%s kind=%s", run.pk, run.campaign_id, run.kind)
    try:
        for source in sources:
            if not source.path.is_file():
                raise ImportFailed(f"{source.display_name}: no such file")
        return runner(run, sources, batch_rows=batch_rows, on_progress=on_progress)
    except layouts.LayoutError as exc:
        _record_failure(run, str(exc), [], 0)
        raise ImportFailed(str(exc)) from exc
    except ImportFailed as exc:
        _record_failure(run, str(exc), exc.rejects, exc.rejected_count)
        raise
    except Exception as exc:
        _record_failure(run, f"internal error ({type(exc).__name__}); see the server log", [], 0)
        logger.exception("import %s failed", run.pk)
        raise


def _audit_import(run: ImportRun) -> None:
    """One audit event per finished import (a killed import changed nothing and leaves none)."""
    run.refresh_from_db()
    record_audit_event(
        action=AuditAction.IMPORT,
        campaign=run.campaign_id,
        user=run.created_by,
        obj=run,
        row_count=run.rows_read,
        detail={"kind": run.kind, "layout": run.layout, "status": run.status},
    )


def _record_failure(
    run: ImportRun, message: str, rejects: list[layouts.RejectedLine], rejected_count: int
) -> None:
    """Mark the run failed, keeping the bad rows of a strict import so staff can see them."""
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.FAILED,
        error=message,
        rejected=rejected_count,
        finished_at=timezone.now(),
    )
    RejectedRow.objects.bulk_create(
        [
            RejectedRow(
                import_run_id=run.pk,
                file_name=r.file_name,
                line_number=r.line_number,
                raw=r.raw,
                errors=[{"field": e.field, "reason": e.reason} for e in r.errors],
            )
            for r in rejects
        ],
        batch_size=2_000,
    )
    run.refresh_from_db()


def _progress_key(import_run_id: int) -> str:
    return f"import-run:{import_run_id}:progress"


def _cache_progress(import_run_id: int) -> ProgressCallback:
    def publish(progress: ImportProgress) -> None:
        share = progress.bytes_done / progress.bytes_total if progress.bytes_total else 1.0
        cache.set(
            _progress_key(import_run_id),
            {"phase": progress.phase, "rows_read": progress.rows_read, "share": round(share, 4)},
            PROGRESS_TTL_SECONDS,
        )

    return publish


# --------------------------------------------------------------------------------------------
# Contact history and program assignments
# --------------------------------------------------------------------------------------------


def import_contact_history(
    *,
    campaign: Campaign,
    paths: Sequence[str | Path],
    layout: str = "generic",
    mode: str = ImportMode.STRICT,
    user: AbstractBaseUser | None = None,
    display_names: Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportRun:
    """Import contact history and survey responses (`generic`, or VAN report exports: `van`).

    Rows for voters not in the campaign are counted, not fatal; the same file twice adds nothing.
    Raises ImportFailed (nothing committed) on a strict import with bad rows.
    """
    run = _start_run(campaign, ImportKind.CONTACTS, layout, mode, False, paths, display_names, user)
    return _execute(run, _sources(paths, display_names), on_progress, batch_rows)


def import_program_assignments(
    *,
    campaign: Campaign,
    program: str,
    paths: Sequence[str | Path],
    mode: str = ImportMode.STRICT,
    user: AbstractBaseUser | None = None,
    display_names: Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportRun:
    """Import the arms (a variant name or `control`) of a past randomized program.

    The program and its arms are created when new. A voter already assigned to another arm of the
    program is a rejected row, never re-drawn.
    """
    name = program.strip()
    if not name:
        raise ImportFailed("a program name is required")
    run = _start_run(
        campaign, ImportKind.ASSIGNMENTS, "generic", mode, False, paths, display_names, user,
        counts={"program": name},
    )  # fmt: skip
    return _execute(run, _sources(paths, display_names), on_progress, batch_rows)
