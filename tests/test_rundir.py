"""The CPU description every run and benchmark records: its flags and its kind (rundir.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab.rundir import cpu_flags, cpu_kind

ZEN3 = "fpu sse2 avx avx2 fma bmi2 sha_ni"  # AMD EPYC Zen 3: AVX2, no AVX-512
ZEN5 = ZEN3 + " avx512f avx512bw avx512_vnni avx512_bf16"
ICELAKE = ZEN3 + " avx512f avx512bw"


@pytest.mark.parametrize(
    "flags, kind",
    [
        (ZEN3, "AVX2"),
        (ZEN5, "AVX-512 + BF16"),
        (ICELAKE, "AVX-512"),
        (ZEN3 + " amx_bf16 avx512f", "AVX-512 + BF16"),
    ],
)
def test_the_kind_follows_the_flags(tmp_path, flags, kind):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert cpu_flags(str(cpuinfo)) == set(flags.split())
    assert cpu_kind(cpu_flags(str(cpuinfo))) == kind


def test_no_cpuinfo_means_no_flags_and_the_machine_type(tmp_path):
    import platform

    assert cpu_flags(str(tmp_path / "missing")) == set()
    assert cpu_kind(set()) == platform.machine()


def test_runs_latest_follows_the_newest_run_and_is_not_listed_twice(tmp_path, monkeypatch):
    from mnistlab.evaluation.leaderboard import list_runs
    from mnistlab.rundir import LATEST_LINK, new_run_dir, release

    monkeypatch.chdir(tmp_path)
    first = new_run_dir("mlp", None)
    assert (tmp_path / "runs" / LATEST_LINK).resolve() == first.resolve()
    (first / "config.json").write_text('{"model": "mlp"}')
    second = new_run_dir("mlp", None)
    latest = tmp_path / "runs" / LATEST_LINK
    assert latest.is_symlink() and latest.resolve() == second.resolve() != first.resolve()
    assert not latest.readlink().is_absolute()  # the runs folder can be moved or copied whole
    (second / "config.json").write_text('{"model": "mlp"}')
    listed = sorted(Path(row["path"]).name for row in list_runs(tmp_path / "runs"))
    assert listed == sorted([first.name, second.name])
    elsewhere = new_run_dir("mlp", str(tmp_path / "mine"))  # --out: runs/latest stays where it was
    assert latest.resolve() == second.resolve()
    for run in (first, second, elsewhere):
        release(run)
