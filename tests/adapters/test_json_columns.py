"""The JSON columns both SQL adapters write: the hand-written hot paths write exactly what
the converter writes, and read back to the same values."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.adapters import _json_columns as columns
from evcharge_core.domain.model import StatusRecord
from evcharge_core.domain.transactions import MeterSample
from evcharge_core.testing import strategies


@given(st.lists(strategies.meter_samples(), max_size=4))
def test_samples_are_written_as_the_converter_writes_them(samples: list[MeterSample]) -> None:
    expected = columns.converter.dumps(samples, unstructure_as=list[MeterSample])
    assert columns.dump_samples(samples) == expected
    assert columns.load_samples(expected) == samples


@given(strategies.status_records())
def test_status_records_are_written_as_the_converter_writes_them(record: StatusRecord) -> None:
    assert columns.dump_status(record) == columns.converter.dumps(record)
    assert columns.load(columns.dump_status(record) or "", StatusRecord) == record


@given(st.integers(0, 50), st.integers(-60, 60), st.integers(-60, 60))
def test_a_page_is_cut_as_python_slices(total: int, start: int, stop: int) -> None:
    offset, limit = columns.slice_bounds(total, start, stop)
    rows = list(range(total))
    assert rows[offset : offset + limit] == rows[start:stop]
