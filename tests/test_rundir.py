"""The CPU description every run and benchmark records: its flags and its kind (rundir.py)."""

from __future__ import annotations

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
