"""Contact-history and program-assignment imports: stream, stage, then merge in one transaction.

The same shape as the voter and history imports (`voters.importers`): parsed batches go into a
temporary staging table (COPY on PostgreSQL, inserts on the embedded SQLite), then set-based SQL
resolves voters, finds or creates programs and arms, and appends contact attempts, survey
responses, opt-outs and assignments with `INSERT … ON CONFLICT DO NOTHING`, so the same file twice
adds nothing. One transaction: a killed import leaves the campaign exactly as before or as after.

Names are mapped to codes while parsing (`voters.layouts.contacts`), with the campaign's code
mappings and survey questions loaded here once the campaign is locked.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from django.db import connection, transaction
from django.utils import timezone

from voters import layouts
from voters.consent import OptOut, opt_out_channels, record_opt_outs
from voters.importers import (
    BATCH_ROWS,
    ImportSource,
    ProgressCallback,
    StagingTable,
    _fail_if_strict,
    _finish,
    _is_postgres,
    _lock_and_stage,
    _save_rejects,
    _timed,
)
from voters.models import (
    RESULTS_BY_CHANNEL,
    Channel,
    CodeMapping,
    CodeMappingKind,
    ConsentSource,
    ContactResult,
    ContactSource,
    ImportRun,
    Program,
    SurveyOption,
    SurveyQuestion,
)

# Every phase these imports time, in the order they run.
CONTACT_PHASES = (
    "wait_for_lock", "parse_and_stage", "match_voters", "merge_programs", "insert_contacts",
    "insert_responses", "record_opt_outs",
)  # fmt: skip
ASSIGNMENT_PHASES = (
    "wait_for_lock", "parse_and_stage", "match_voters", "check_conflicts", "merge_programs",
    "insert_assignments",
)  # fmt: skip

# Columns the merge fills in on the staging table, after the parsed ones.
_CONTACT_LINKS = {
    "voter_pk": pl.Int64, "program_id": pl.Int64, "arm_id": pl.Int64, "dedupe_key": pl.Utf8,
    "contact_id": pl.Int64,
}  # fmt: skip
_KEY_SEPARATOR = "\x1f"  # as voters.contacts.contact_dedupe_key joins the parts
_ASSIGNMENT_LINKS = {"voter_pk": pl.Int64, "conflict_with": pl.Utf8}


def _with_nulls(columns: dict[str, pl.DataType]):
    def prepare(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in columns.items())

    return prepare


def _utc(expr: str) -> str:
    """SQL for a staged UTC time text as the database's timestamp (SQLite keeps the text)."""
    return f"(({expr})::timestamp AT TIME ZONE 'UTC')" if _is_postgres() else expr


def _db_time(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


# --------------------------------------------------------------------------------------------
# What names mean in this campaign
# --------------------------------------------------------------------------------------------


def load_contact_codes(campaign_id: int) -> layouts.ContactCodes:
    """The campaign's VAN code mappings and survey questions, as the parser wants them."""
    tables: dict[str, dict[str, str]] = {k: {} for k in CodeMappingKind.values}
    mappings = CodeMapping.objects.filter(campaign_id=campaign_id, layout="van")
    for kind, name, code in mappings.values_list("kind", "source_name", "code"):
        tables[kind][name.strip().lower()] = code.strip()
    questions: dict[str, str] = {}
    answers: dict[str, dict[str, str]] = {}
    option_codes: dict[str, dict[str, str]] = {}
    for slug, text in SurveyQuestion.objects.filter(campaign_id=campaign_id).values_list(
        "slug", "text"
    ):
        questions.setdefault(text.strip().lower(), slug)
        answers[slug], option_codes[slug] = {}, {}
    for slug in answers:
        questions[slug.lower()] = slug
    options = SurveyOption.objects.filter(question__campaign_id=campaign_id).order_by("-position")
    for slug, code, label in options.values_list("question__slug", "code", "label"):
        # Codes win over labels: a label that spells another option's code means that code.
        answers[slug].setdefault(label.strip().lower(), code)
        option_codes[slug][code.strip().lower()] = code
    for slug, codes in option_codes.items():
        answers[slug].update(codes)
    return layouts.ContactCodes(
        results_by_channel=RESULTS_BY_CHANNEL,
        van_results=tables[CodeMappingKind.RESULT],
        van_contact_types=tables[CodeMappingKind.CONTACT_TYPE],
        van_questions=tables[CodeMappingKind.SURVEY_QUESTION],
        questions=questions,
        answers=answers,
        option_codes=option_codes,
    )


# --------------------------------------------------------------------------------------------
# Shared merges
# --------------------------------------------------------------------------------------------


def _match_voters_by_id(cursor, table: StagingTable, key: str, campaign_id: int) -> None:
    # SQLite's UPDATE … FROM cannot alias its target, so the staging table is named in full.
    cursor.execute(
        f"""UPDATE {table.name} SET voter_pk = v.id FROM voters_voter v
            WHERE v.campaign_id = %s AND v.voter_id = {table.name}.{key}""",
        [campaign_id],
    )


def _match_voters_by_extra(cursor, table: StagingTable, column: str, campaign_id: int) -> None:
    """Voters by a voter-file column kept in `extra` (the VANID); the lowest id wins a tie."""
    if _is_postgres():
        # `extra` keeps the cell as written; the parser reads a VANID of "123.0" as "123".
        value, params = r"regexp_replace(v.extra ->> %s, '^([+-]?\d+)\.0+$', '\1')", [column]
    else:
        value, params = "CAST(json_extract(v.extra, %s) AS TEXT)", [f'$."{column}"']
    cursor.execute(
        f"""UPDATE {table.name} SET voter_pk = m.id
            FROM (SELECT {value} AS k, min(v.id) AS id FROM voters_voter v
                  WHERE v.campaign_id = %s GROUP BY 1) m
            WHERE m.k IS NOT NULL AND m.k = {table.name}.voter_key""",
        [*params, campaign_id],
    )


def _count(cursor, sql: str, params: list | None = None) -> int:
    cursor.execute(sql, params or [])
    return cursor.fetchone()[0]


def _insert_programs(cursor, table: StagingTable, campaign_id: int, now) -> int:
    cursor.execute(
        f"""
        INSERT INTO voters_program (campaign_id, name, description, created_at)
        SELECT DISTINCT %s, s.program, '', %s FROM {table.name} s
        WHERE s.program IS NOT NULL AND s.voter_pk IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM voters_program p
                          WHERE p.campaign_id = %s AND p.name = s.program)
        """,
        [campaign_id, now, campaign_id],
    )
    return cursor.rowcount


def _insert_arms(cursor, table: StagingTable, program_sql: str, params: list) -> int:
    """Arms named in staged rows, under the program each row names (`program_sql` joins it)."""
    cursor.execute(
        f"""
        INSERT INTO voters_programarm (program_id, name, is_control)
        SELECT DISTINCT p.id, s.arm, s.arm = %s FROM {table.name} s {program_sql}
        WHERE s.arm IS NOT NULL AND s.voter_pk IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM voters_programarm a
                          WHERE a.program_id = p.id AND a.name = s.arm)
        """,
        [layouts.contacts.CONTROL_ARM, *params],
    )
    return cursor.rowcount


# --------------------------------------------------------------------------------------------
# Contacts
# --------------------------------------------------------------------------------------------


def _link_programs(cursor, table: StagingTable, campaign_id: int) -> None:
    s = table.name
    cursor.execute(
        f"""UPDATE {s} SET program_id = p.id FROM voters_program p
            WHERE p.campaign_id = %s AND p.name = {s}.program""",
        [campaign_id],
    )
    cursor.execute(
        f"""UPDATE {s} SET arm_id = a.id FROM voters_programarm a
            WHERE a.program_id = {s}.program_id AND a.name = {s}.arm"""
    )


def _set_dedupe_keys(cursor, table: StagingTable) -> None:
    """The natural key of each contact, exactly as `voters.contacts.contact_dedupe_key` makes it
    (voter, channel, time to the second in UTC ISO form, result, program, arm, variant,
    canvasser), so a contact recorded by hand and imported later is kept once.

    Identical rows in one file are separate attempts (a canvasser who knocks twice in a minute
    with the same result): the n-th occurrence in its file, past the first, has the key digested
    again with n. The first keeps the plain key, so hand-recorded contacts and earlier imports
    still match, and the same file imported again still adds nothing."""
    iso_time = "substr(occurred_at, 1, 10) || 'T' || substr(occurred_at, 12, 8) || '+00:00'"
    parts = [
        "CAST(voter_pk AS TEXT)", "channel", iso_time, "result",
        "coalesce(CAST(program_id AS TEXT), '')", "coalesce(CAST(arm_id AS TEXT), '')",
        "coalesce(variant, '')", "coalesce(canvasser, '')",
    ]  # fmt: skip
    s = table.name
    cursor.execute(
        f"""UPDATE {s} SET dedupe_key = md5({" || %s || ".join(parts)})
            WHERE voter_pk IS NOT NULL AND result IS NOT NULL""",
        [_KEY_SEPARATOR] * (len(parts) - 1),
    )
    cursor.execute(
        f"""UPDATE {s} SET dedupe_key = md5(k.dedupe_key || %s || CAST(k.nth AS TEXT))
            FROM (SELECT file_no, line_number, dedupe_key,
                         row_number() OVER (PARTITION BY file_no, dedupe_key
                                            ORDER BY line_number) AS nth
                  FROM {s} WHERE dedupe_key IS NOT NULL) k
            WHERE k.nth > 1 AND k.file_no = {s}.file_no AND k.line_number = {s}.line_number""",
        [_KEY_SEPARATOR],
    )


def _insert_contacts(cursor, table: StagingTable, campaign_id: int, run_id: int, now) -> int:
    cursor.execute(
        f"""
        INSERT INTO voters_contactattempt
            (campaign_id, voter_id, channel, occurred_at, result, result_raw, program_id, arm_id,
             variant, canvasser, source, note, dedupe_key, import_run_id, created_at)
        SELECT %s, s.voter_pk, s.channel, {_utc("s.occurred_at")}, s.result, s.result_raw,
               s.program_id, s.arm_id, s.variant, s.canvasser, %s, coalesce(s.note, ''),
               s.dedupe_key, %s, %s
        FROM {table.name} s
        WHERE s.dedupe_key IS NOT NULL
        ORDER BY s.file_no, s.line_number
        ON CONFLICT (campaign_id, dedupe_key) DO NOTHING
        """,
        [campaign_id, ContactSource.IMPORT, run_id, now],
    )
    return cursor.rowcount


def _link_responses(cursor, table: StagingTable, campaign_id: int) -> None:
    """Each answer's contact attempt: its own row's, else the voter's on that day and channel."""
    cursor.execute(
        f"""UPDATE {table.name} SET contact_id = c.id FROM voters_contactattempt c
            WHERE c.campaign_id = %s AND c.dedupe_key = {table.name}.dedupe_key
              AND {table.name}.question IS NOT NULL""",
        [campaign_id],
    )
    # A survey-response-only row (VAN's Survey Response report): the contact of the same voter,
    # day and channel, a conversation first. Indexed by contact_voter_at.
    s = table.name
    cursor.execute(
        f"""UPDATE {s} SET contact_id = (
                SELECT c.id FROM voters_contactattempt c
                WHERE c.voter_id = {s}.voter_pk AND c.channel = {s}.channel
                  AND c.occurred_at >= {_utc(f"{s}.day_start")}
                  AND c.occurred_at < {_utc(f"{s}.day_end")}
                ORDER BY CASE WHEN c.result = %s THEN 0 ELSE 1 END, c.occurred_at, c.id
                LIMIT 1)
            WHERE result IS NULL AND question IS NOT NULL AND voter_pk IS NOT NULL""",
        [ContactResult.CONTACTED],
    )


def _insert_responses(cursor, table: StagingTable, campaign_id: int, run_id: int, now) -> int:
    cursor.execute(
        f"""
        INSERT INTO voters_surveyresponse
            (campaign_id, voter_id, question_id, option_id, contact_attempt_id, answered_at,
             source, import_run_id, created_at)
        SELECT %s, s.voter_pk, q.id, o.id, s.contact_id, {_utc("s.occurred_at")}, %s, %s, %s
        FROM {table.name} s
        JOIN voters_surveyquestion q ON q.campaign_id = %s AND q.slug = s.question
        JOIN voters_surveyoption o ON o.question_id = q.id AND o.code = s.answer
        WHERE s.voter_pk IS NOT NULL
        ORDER BY s.file_no, s.line_number
        ON CONFLICT (voter_id, question_id, answered_at, option_id) DO NOTHING
        """,
        [campaign_id, ContactSource.IMPORT, run_id, now, campaign_id],
    )
    return cursor.rowcount


def _opt_outs(cursor, table: StagingTable) -> tuple[list[OptOut], int]:
    """The opt-outs of the imported 'opted_out' contacts, on every channel each one closes (see
    `opt_out_channels`), keyed like the ledger; and how many of those channels had no address on
    file (nothing to opt out)."""
    cursor.execute(
        f"""SELECT s.voter_pk, s.channel, s.result_raw, s.occurred_at, s.dedupe_key, v.phone,
                   v.email
            FROM {table.name} s JOIN voters_voter v ON v.id = s.voter_pk
            WHERE s.result = %s AND s.dedupe_key IS NOT NULL
            ORDER BY s.file_no, s.line_number""",
        [ContactResult.OPTED_OUT],
    )
    events, without_address = [], 0
    for voter_pk, channel, result_raw, occurred_at, key, phone, email in cursor.fetchall():
        at = dt.datetime.fromisoformat(occurred_at).replace(tzinfo=dt.UTC)
        for closed in opt_out_channels(channel, result_raw):
            address = _address_on(closed, voter_pk, phone, email)
            if not address:
                without_address += 1
                continue
            key_on = f"contact:{key}" if closed == channel else f"contact:{key}:{closed}"
            events.append(OptOut(closed, address, at, voter_id=voter_pk, dedupe_key=key_on))
    return events, without_address


def _address_on(channel: str, voter_pk: int, phone: str | None, email: str | None) -> str | None:
    if channel in (Channel.SMS, Channel.PHONE):
        address = phone
    elif channel == Channel.EMAIL:
        address = email
    else:
        address = f"voter:{voter_pk}"
    return address.strip() if address and address.strip() else None


def run_contact_import(
    run: ImportRun,
    sources: list[ImportSource],
    *,
    batch_rows: int = BATCH_ROWS,
    on_progress: ProgressCallback | None = None,
) -> ImportRun:
    """Import contact-history files (generic or VAN) into `run.campaign` in one transaction."""
    campaign = run.campaign
    table = StagingTable("stage_contacts", {**layouts.CONTACT_COLUMNS, **_CONTACT_LINKS})
    with transaction.atomic(), connection.cursor() as cursor:
        staged = _lock_and_stage(
            cursor,
            run,
            table,
            sources,
            reader=layouts.read_contact_batches,
            reader_options={
                "layout": run.layout,
                "codes": load_contact_codes(campaign.pk),
                "time_zone": campaign.time_zone,
                "batch_rows": batch_rows,
            },
            on_progress=on_progress,
            prepare=_with_nulls(_CONTACT_LINKS),
        )
        _fail_if_strict(run, staged, [])
        table.analyze(cursor, keys=("voter_key",))
        counts = _merge_contacts(cursor, table, run)
        run.rows_read = staged.rows_read
        run.rejected = staged.rejected
        run.created = counts["contacts_created"]
        run.duplicates = counts["contacts_on_record"] + counts["responses_on_record"]
        run.counts = {**(run.counts or {}), **counts}
        table.drop(cursor)
        _finish(run)
    return run


def _merge_contacts(cursor, table: StagingTable, run: ImportRun) -> dict[str, int]:
    campaign = run.campaign
    now = _db_time(timezone.now())
    with _timed(run, "match_voters"):
        if run.layout == "van" and campaign.van_id_column.strip().lower() != "voter_id":
            column = campaign.van_id_column.strip().lower()
            _match_voters_by_extra(cursor, table, column, campaign.pk)
        else:
            _match_voters_by_id(cursor, table, "voter_key", campaign.pk)
        run.orphaned = _count(cursor, f"SELECT count(*) FROM {table.name} WHERE voter_pk IS NULL")
    counts: dict[str, int] = {}
    with _timed(run, "merge_programs"):
        counts["programs_created"] = _insert_programs(cursor, table, campaign.pk, now)
        counts["arms_created"] = _insert_arms(
            cursor,
            table,
            "JOIN voters_program p ON p.campaign_id = %s AND p.name = s.program",
            [campaign.pk],
        )
        _link_programs(cursor, table, campaign.pk)
    with _timed(run, "insert_contacts"):
        _set_dedupe_keys(cursor, table)
        contacts = _count(cursor, f"SELECT count(*) FROM {table.name} WHERE dedupe_key IS NOT NULL")
        counts["contacts_created"] = _insert_contacts(cursor, table, campaign.pk, run.pk, now)
        counts["contacts_on_record"] = contacts - counts["contacts_created"]
    with _timed(run, "insert_responses"):
        _link_responses(cursor, table, campaign.pk)
        responses = _count(
            cursor,
            f"SELECT count(*) FROM {table.name} WHERE voter_pk IS NOT NULL AND answer IS NOT NULL",
        )
        counts["responses_created"] = _insert_responses(cursor, table, campaign.pk, run.pk, now)
        counts["responses_on_record"] = responses - counts["responses_created"]
    with _timed(run, "record_opt_outs"):
        events, counts["opt_outs_without_address"] = _opt_outs(cursor, table)
        counts["opt_outs_created"] = record_opt_outs(
            campaign=campaign, source=ConsentSource.IMPORT, events=events, actor=f"import {run.pk}"
        )
    return counts


# --------------------------------------------------------------------------------------------
# Assignments
# --------------------------------------------------------------------------------------------


def _mark_conflicts(cursor, table: StagingTable, program_id: int | None) -> None:
    """Rows whose voter already has another arm: on record in the program, else on the voter's
    first line in these files. A voter is never re-drawn."""
    s = table.name
    cursor.execute(
        f"""
        UPDATE {s} SET conflict_with = eff.arm
        FROM (
            SELECT f.voter_pk, coalesce(ea.name, f.arm) AS arm
            FROM (SELECT voter_pk, arm,
                         row_number() OVER (PARTITION BY voter_pk
                                            ORDER BY file_no, line_number) AS nth
                  FROM {s} WHERE voter_pk IS NOT NULL) f
            LEFT JOIN voters_assignment e ON e.program_id = %s AND e.voter_id = f.voter_pk
            LEFT JOIN voters_programarm ea ON ea.id = e.arm_id
            WHERE f.nth = 1
        ) eff
        WHERE eff.voter_pk = {s}.voter_pk AND eff.arm <> {s}.arm
        """,
        [program_id],
    )


def _reject_conflicts(
    cursor, table: StagingTable, sources: list[ImportSource]
) -> list[layouts.RejectedLine]:
    cursor.execute(
        f"""SELECT file_no, line_number, conflict_with FROM {table.name}
            WHERE conflict_with IS NOT NULL ORDER BY file_no, line_number"""
    )
    conflicts = cursor.fetchall()
    if not conflicts:
        return []
    wanted: dict[int, set[int]] = {}
    for file_no, line, _ in conflicts:
        wanted.setdefault(file_no, set()).add(line)
    raw = {f: layouts.read_raw_lines(sources[f].path, lines) for f, lines in wanted.items()}
    cursor.execute(f"DELETE FROM {table.name} WHERE conflict_with IS NOT NULL")
    return [
        layouts.RejectedLine(
            file_name=sources[file_no].display_name,
            line_number=line,
            raw=raw[file_no].get(line, ""),
            errors=(layouts.FieldError("arm", f"already assigned to {arm}"),),
        )
        for file_no, line, arm in conflicts
    ]


def _insert_assignments(cursor, table: StagingTable, run: ImportRun, program_id: int, now) -> int:
    cursor.execute(
        f"""
        INSERT INTO voters_assignment
            (campaign_id, program_id, arm_id, voter_id, assigned_at, import_run_id, created_at)
        SELECT %s, %s, a.id, s.voter_pk, coalesce({_utc("s.assigned_at")}, %s), %s, %s
        FROM {table.name} s
        JOIN voters_programarm a ON a.program_id = %s AND a.name = s.arm
        WHERE s.voter_pk IS NOT NULL
        ORDER BY s.file_no, s.line_number
        ON CONFLICT (program_id, voter_id) DO NOTHING
        """,
        [run.campaign_id, program_id, now, run.pk, now, program_id],
    )
    return cursor.rowcount


def program_name_of(run: ImportRun) -> str:
    """The program an assignment run imports into (kept on the run, so a queued run knows it)."""
    name = (run.counts or {}).get("program", "").strip()
    if not name:
        raise ValueError(f"import run {run.pk} names no program")
    return name


def run_assignment_import(
    run: ImportRun,
    sources: list[ImportSource],
    *,
    batch_rows: int = BATCH_ROWS,
    on_progress: ProgressCallback | None = None,
) -> ImportRun:
    """Import the arms of a past randomized program (`run.counts["program"]`) in one transaction."""
    campaign = run.campaign
    name = program_name_of(run)
    table = StagingTable("stage_assignments", {**layouts.ASSIGNMENT_COLUMNS, **_ASSIGNMENT_LINKS})
    with transaction.atomic(), connection.cursor() as cursor:
        staged = _lock_and_stage(
            cursor,
            run,
            table,
            sources,
            reader=layouts.read_assignment_batches,
            reader_options={"time_zone": campaign.time_zone, "batch_rows": batch_rows},
            on_progress=on_progress,
            prepare=_with_nulls(_ASSIGNMENT_LINKS),
        )
        table.analyze(cursor, keys=("voter_id",))
        with _timed(run, "match_voters"):
            _match_voters_by_id(cursor, table, "voter_id", campaign.pk)
            run.orphaned = _count(
                cursor, f"SELECT count(*) FROM {table.name} WHERE voter_pk IS NULL"
            )
        program = Program.objects.filter(campaign=campaign, name=name).first()
        with _timed(run, "check_conflicts"):
            _mark_conflicts(cursor, table, program.pk if program else None)
            conflicts = _reject_conflicts(cursor, table, sources)
        _fail_if_strict(run, staged, conflicts)
        if conflicts:
            _save_rejects(run, conflicts)
        now = _db_time(timezone.now())
        counts = {"program": name, "program_created": 0}
        with _timed(run, "merge_programs"):
            if program is None:
                program = Program.objects.create(campaign=campaign, name=name)
                counts["program_created"] = 1
            counts["arms_created"] = _insert_arms(
                cursor, table, "JOIN voters_program p ON p.id = %s", [program.pk]
            )
        with _timed(run, "insert_assignments"):
            placed = _count(cursor, f"SELECT count(*) FROM {table.name} WHERE voter_pk IS NOT NULL")
            run.created = _insert_assignments(cursor, table, run, program.pk, now)
        run.duplicates = placed - run.created
        run.rows_read = staged.rows_read
        run.rejected = staged.rejected + len(conflicts)
        run.counts = {**(run.counts or {}), **counts}
        table.drop(cursor)
        _finish(run)
    return run


__all__ = [
    "ASSIGNMENT_PHASES",
    "CONTACT_PHASES",
    "load_contact_codes",
    "program_name_of",
    "run_assignment_import",
    "run_contact_import",
]
