import pytest

from collectors.sampling import SamplingState


def test_consecutive_samples_charge_the_counter_increase_and_the_gap():
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    state.advance("c", 1000, start=0, counter=100.0, rate=0.5)
    sample = state.advance("c", 1015, start=0, counter=107.5, rate=0.5)
    assert (sample.interval, sample.increment) == (15, 7.5)


def test_the_same_sample_twice_gives_the_same_interval_and_increment():
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    state.advance("c", 1000, start=0, counter=100.0)
    first = state.advance("c", 1015, start=0, counter=107.5)
    again = state.advance("c", 1015, start=0, counter=107.5)
    assert again == first


def test_a_sample_older_than_the_last_one_starts_the_series_again_and_is_logged_once(caplog):
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    state.advance("c", 1000, start=0, counter=1.0)
    sample = state.advance("c", 400, start=0, counter=5.0, rate=0.2)
    assert (sample.interval, sample.increment) == (15, pytest.approx(3.0))
    assert state.advance("c", 400, start=0, counter=5.0, rate=0.2) == sample  # a rerun: same point
    following = state.advance("c", 415, start=0, counter=6.5, rate=0.2)
    assert (following.interval, following.increment) == (15, pytest.approx(1.5))
    stepped = [r for r in caplog.records if "stepped back" in r.getMessage()]
    assert len(stepped) == 1 and "c" in stepped[0].getMessage()
    assert state.stepped_back == 1


def test_a_slow_series_whose_clock_stepped_back_is_due_at_once():
    state = SamplingState()
    assert state.due("v", 1000, every=60)
    assert state.due("v", 500, every=60)
    assert not state.due("v", 530, every=60)


def test_a_gap_longer_than_the_cap_charges_the_cap_but_keeps_the_exact_counter():
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    state.advance("c", 1000, start=0, counter=10.0)
    sample = state.advance("c", 1300, start=0, counter=160.0)
    assert sample.interval == 30
    assert sample.increment == 150.0


def test_a_restart_inside_the_gap_charges_the_new_container_from_its_start_with_its_own_counter():
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    state.advance("c", 1000, start=0, counter=500.0)
    sample = state.advance("c", 1015, start=1008, counter=2.0)
    assert (sample.interval, sample.increment) == (7, 2.0)
    assert state.advance("c", 1015, start=1008, counter=2.0) == sample  # a rerun: same point


def test_a_container_born_since_the_last_cycle_is_charged_from_its_start():
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    sample = state.advance("c", 1010, start=1000, counter=4.0, rate=0.4)
    assert (sample.interval, sample.increment) == (10, 4.0)


def test_state_survives_a_round_trip_through_redis(redis_db):
    state = SamplingState(cap_seconds=30, nominal_seconds=15)
    state.advance("c/ns/pod/app", 1000, start=0, counter=1.0)
    state.save(redis_db, now=1000)
    loaded = SamplingState.load(redis_db, cap_seconds=30, nominal_seconds=15)
    assert loaded.advance("c/ns/pod/app", 1015, start=0, counter=2.5).increment == pytest.approx(1.5)


def test_series_not_seen_for_a_day_are_forgotten(redis_db):
    state = SamplingState()
    state.advance("old", 1000, start=0, counter=1.0)
    state.save(redis_db, now=1000)
    state = SamplingState.load(redis_db, 30, 15)
    state.advance("new", 1000 + 90_000, start=0, counter=1.0)
    state.save(redis_db, now=1000 + 90_000)
    assert set(SamplingState.load(redis_db, 30, 15).entries) == {"new"}


def test_a_slow_series_is_due_once_a_minute_and_again_for_the_same_sample():
    state = SamplingState()
    assert state.due("v", 1000, every=60)
    assert state.due("v", 1000, every=60)  # a re-run rewrites the same point
    assert not state.due("v", 1030, every=60)
    assert state.due("v", 1060, every=60)


def test_an_unknown_start_is_the_same_instance_while_its_counter_does_not_go_back():
    """A state rebuilt from InfluxDB has no start times (``collectors.staterebuild``)."""
    state = SamplingState({"c": [1000, 100.0, None, 15.0, 1.5]}, cap_seconds=30, nominal_seconds=15)
    sample = state.advance("c", 1015, start=10, counter=107.5, rate=0.5)
    assert (sample.interval, sample.increment) == (15, 7.5)
    assert state.entries["c"][2] == 10  # known from now on


def test_an_unknown_start_gives_way_to_a_restart_after_the_last_sample():
    state = SamplingState({"c": [1000, 100.0, None, 15.0, 1.5]}, cap_seconds=30, nominal_seconds=15)
    sample = state.advance("c", 1015, start=1005, counter=2.0, rate=0.2)
    assert (sample.interval, sample.increment) == (10, 2.0)


def test_a_state_marked_in_doubt_is_not_used_until_a_save_clears_the_mark(redis_db):
    state = SamplingState()
    state.advance("c/ns/pod/app", 1000, start=0, counter=1.0)
    state.save(redis_db, now=1000)
    SamplingState.begin(redis_db, name="gpu")
    assert SamplingState.load(redis_db, 30, 15).found  # another cycle's mark
    SamplingState.begin(redis_db)
    doubtful = SamplingState.load(redis_db, 30, 15)
    assert (doubtful.found, doubtful.in_doubt) == (False, True)
    doubtful.save(redis_db, now=1000)
    assert SamplingState.load(redis_db, 30, 15).found
