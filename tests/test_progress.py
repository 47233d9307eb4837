"""Progress updates: what one epoch's line says, how the ETA treats resumed epochs, and how a SLURM task's
log line is found again."""
import itertools

from lidcbench import progress
from lidcbench.running.executors.slurm import last_progress, log_progress


def test_each_epoch_reports_its_loss_images_per_second_and_an_eta_from_timed_epochs_only(monkeypatch):
    clock = itertools.count(0.0, 2.0)  # every reading of the clock is 2 s after the one before
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    updates = []
    with progress.reporting_to(updates.append), progress.task("epochs", total=10) as advance:
        advance(4, resumed=True)  # restored from a checkpoint: counted, not timed
        advance(images=1000, cls=0.5, reg=0.25)
        advance(images=1000, cls=0.4, reg=0.2)
    assert [u.completed for u in updates] == [0, 4, 5, 6]
    assert updates[1].eta_s is None and updates[1].images_per_s is None
    assert updates[2].images_per_s == 500 and updates[2].eta_s == 2.0 * 5
    assert updates[3].text() == "epochs 6/10, loss cls 0.4 reg 0.2, 500 images/s, ETA 8 s"
    assert progress.current() is None  # the reporter was only in force inside the block


def test_without_a_reporter_advancing_does_nothing():
    with progress.task("epochs", total=3) as advance:
        advance(images=10, loss=1.0)
    assert progress.current() is None


def test_durations_read_as_a_person_would_say_them():
    assert [progress.duration(s) for s in (4.4, 65, 7322)] == ["4 s", "1 min 05 s", "2 h 02 min"]


def test_a_slurm_tasks_last_progress_line_is_read_from_its_log(tmp_path, capsys):
    log = tmp_path / "task_log.out"
    assert last_progress(log) is None  # not written yet
    log_progress(progress.Update("epochs", 1, 3, {"cls": 0.5}))
    log_progress(progress.Update("epochs", 2, 3, {"cls": 0.25}, 100.0, 30.0))
    log.write_text("submitit INFO starting\n" + capsys.readouterr().out + "other output\n")
    assert last_progress(log) == "epochs 2/3, loss cls 0.25, 100 images/s, ETA 30 s"
