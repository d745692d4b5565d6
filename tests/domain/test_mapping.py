"""Which connector specification a connector gets, by its OCPP connector ID (SPEC §5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.mapping import spec_for_connector, spec_index_for_connector

# Distinct values, so that "which one was picked" is observable.
spec_lists = st.lists(st.uuids(), min_size=1, max_size=12, unique=True)
not_integers = st.one_of(
    st.none(),
    st.floats(allow_nan=True),
    st.text(max_size=4),
    st.decimals(allow_nan=False),
    st.just("1"),
    st.just(2.0),
    st.tuples(st.integers()),
)


@given(spec_lists, st.integers())
def test_ids_in_range_pick_their_spec_others_the_first(specs: list[object], ocpp_id: int) -> None:
    expected = specs[ocpp_id - 1] if 1 <= ocpp_id <= len(specs) else specs[0]
    assert spec_for_connector(specs, ocpp_id) is expected


@given(spec_lists)
def test_every_id_in_import_order(specs: list[object]) -> None:
    assert [spec_for_connector(specs, i) for i in range(1, len(specs) + 1)] == specs


@given(spec_lists, st.data())
def test_ids_that_do_not_fit_get_the_first(specs: list[object], data: st.DataObject) -> None:
    ocpp_id = data.draw(
        st.sampled_from([0, -1, len(specs) + 1, 2**31])
        | st.integers(max_value=0)
        | st.integers(min_value=len(specs) + 1)
    )
    assert spec_for_connector(specs, ocpp_id) is specs[0]


@given(spec_lists, not_integers)
def test_non_integers_get_the_first(specs: list[object], ocpp_id: object) -> None:
    assert spec_for_connector(specs, ocpp_id) is specs[0]


def test_two_point_zero_is_not_two() -> None:
    assert spec_for_connector(["first", "second"], 2.0) == "first"
    assert spec_for_connector(["first", "second"], "2") == "first"
    assert spec_for_connector(["first", "second"], 2) == "second"


@pytest.mark.parametrize("flag", [True, False])
def test_booleans_are_not_ids(flag: bool) -> None:
    assert spec_index_for_connector(3, flag) == 0
    assert spec_for_connector(["first", "second"], flag) == "first"


def test_one_spec_applies_to_every_connector() -> None:
    assert {spec_for_connector(["only"], i) for i in (-5, 0, 1, 2, 99)} == {"only"}


@given(st.integers(1, 50), st.integers())
def test_index_is_in_range(count: int, ocpp_id: int) -> None:
    assert 0 <= spec_index_for_connector(count, ocpp_id) < count


@pytest.mark.parametrize("count", [0, -1])
def test_no_specs_is_an_error(count: int) -> None:
    with pytest.raises(ValueError, match="at least one connector specification"):
        spec_index_for_connector(count, 1)
    with pytest.raises(ValueError, match="at least one"):
        spec_for_connector([], 1)
