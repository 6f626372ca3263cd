"""History tables refuse UPDATE and DELETE in the database itself (PostgreSQL triggers)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.factories import (
    AssignmentFactory,
    AuditEventFactory,
    ConsentEventFactory,
    ContactAttemptFactory,
    SurveyResponseFactory,
    VoteRecordFactory,
)

pytestmark = pytest.mark.django_db

HISTORY = {
    "contact attempt": (ContactAttemptFactory, {"result": "refused"}),
    "survey response": (SurveyResponseFactory, {"source": "import"}),
    "consent event": (ConsentEventFactory, {"kind": "opt_in"}),
    "assignment": (AssignmentFactory, {"assigned_at": None}),
    "audit event": (AuditEventFactory, {"row_count": 0}),
    "vote record": (VoteRecordFactory, {"voted": False}),
}


@pytest.mark.parametrize("name", sorted(HISTORY))
def test_history_rows_cannot_be_changed_or_deleted(name):
    factory, change = HISTORY[name]
    row = factory()
    model = type(row)
    if "assigned_at" in change:
        change = {"assigned_at": row.assigned_at.replace(year=2000)}

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        model.objects.filter(pk=row.pk).update(**change)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        model.objects.filter(pk=row.pk).delete()

    assert model.objects.filter(pk=row.pk).count() == 1
    field = next(iter(change))
    assert getattr(model.objects.get(pk=row.pk), field) == getattr(row, field)
