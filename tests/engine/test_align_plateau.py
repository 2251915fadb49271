"""Alignment runs until its objective plateaus, capped by steps and seconds, and says why it stopped."""
from orca_engine.session import Session
from orca_engine.stages.align import PlateauRule


def test_plateau_rule_waits_for_the_floor_then_stops_on_a_flat_or_rising_objective():
    rule = PlateauRule(min_steps=10, window=3, tolerance=0.05)
    assert not any(rule.reached(v) for v in [10, 9, 8, 7, 6, 5, 4, 3, 2])  # falling fast, below the floor
    rule = PlateauRule(min_steps=4, window=3, tolerance=0.05)
    values = [10, 8, 6, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]
    stops = [rule.reached(v) for v in values]
    # windows (6, 5, 5) -> (5, 5, 5) still fall 6%; (5, 5, 5) -> (5, 5, 5) is flat: stop there
    assert stops.index(True) == 8 and "plateau" in rule.reason
    rising = PlateauRule(min_steps=0, window=2, tolerance=0.01)
    assert [rising.reached(v) for v in [1, 1, 2, 3]] == [False, False, False, True]
    assert not any(PlateauRule(0, 0, 0.5).reached(v) for v in [1] * 20)  # window 0: never


def test_the_align_stage_reports_steps_taken_and_why_it_stopped(tmp_path):
    session = Session(runs_dir=tmp_path, live_projection=False)
    cfg = {"data": {"source": "iris"}, "model": {"backbone": "tiny-bert"},
           "align": {"steps": 200, "min_steps": 4, "plateau_steps": 2, "plateau_tolerance": 0.5,
                     "source_samples": 60, "samples_per_class": 8, "projection_every": 0}}
    run = session.start(cfg, stages=("align",))
    status = session.wait(run, timeout=300)
    assert status.state == "idle", status.error
    align = status.metrics["align"]
    assert 4 <= align["steps"] < 200 and align["stopped_by"].startswith("plateau")
    steps = [e for e in session.events(run) if e["type"] == "step" and e["stage"] == "align"]
    assert len(steps) == align["steps"]
