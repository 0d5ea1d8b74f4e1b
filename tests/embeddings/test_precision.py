"""The encoder's precision: bfloat16 where the CPU does it in hardware (AMX or AVX-512 BF16)
and the vectors agree with float32, float32 elsewhere; the choice is recorded with its reason."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings import Agreement, Encoder, bfloat16_supported, choose_precision, cpu_flags
from embeddings.precision import CONFIRMATION_TEXTS, MIN_COSINE

SAPPHIRE_RAPIDS = {"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8"}
INTEL_AMX_ONLY = {"avx2", "avx512f", "amx_tile", "amx_bf16"}
AMD_EPYC_GENOA = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "vaes"}
AMD_EPYC_MILAN = {"avx2", "fma", "f16c", "vaes", "sha_ni"}

AGREES = Agreement(mean=0.99998, min=0.99995, rows=20)
DRIFTS = Agreement(mean=0.98, min=0.91, rows=20)


def _never_called() -> Agreement:
    raise AssertionError("the bfloat16 check must not run here")


def _flags_in_proc_cpuinfo() -> set[str] | None:
    """This machine's flags, read independently of the code under test."""
    path = Path("/proc/cpuinfo")
    if not sys.platform.startswith("linux") or not path.is_file():
        return None
    line = next((row for row in path.read_text().splitlines() if row.startswith("flags")), None)
    return None if line is None else set(line.split(":", 1)[1].split())


@pytest.mark.parametrize(
    "flags, expected",
    [
        (SAPPHIRE_RAPIDS, True),
        (INTEL_AMX_ONLY, True),
        (AMD_EPYC_GENOA, True),  # the CI machine that auto used to leave on float32
        (AMD_EPYC_MILAN, False),
        (set(), False),
    ],
)
def test_bfloat16_is_supported_with_amx_or_avx512_bf16_flags(flags, expected):
    assert bfloat16_supported(flags) is expected


def test_auto_on_amd_avx512_bf16_picks_bfloat16_once_the_check_passes():
    choice = choose_precision("auto", AMD_EPYC_GENOA, lambda: AGREES)
    assert choice.precision == "bfloat16"
    assert "avx512_bf16" in choice.reason and "0.99995" in choice.reason


def test_auto_without_hardware_bfloat16_keeps_float32_without_running_the_check():
    choice = choose_precision("auto", AMD_EPYC_MILAN, _never_called)
    assert choice.precision == "float32"
    assert "neither amx_bf16 nor avx512_bf16" in choice.reason


def test_auto_with_unreadable_cpu_flags_keeps_float32():
    choice = choose_precision("auto", None, _never_called)
    assert choice.precision == "float32" and "cannot be read" in choice.reason


def test_auto_falls_back_to_float32_with_a_warning_when_bfloat16_drifts(caplog):
    with caplog.at_level(logging.WARNING, logger="embeddings.precision"):
        choice = choose_precision("auto", SAPPHIRE_RAPIDS, lambda: DRIFTS)
    assert choice.precision == "float32"
    assert "failed the check" in choice.reason and "0.91000" in choice.reason
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "encoding in float32" in record.getMessage()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_an_explicit_precision_is_kept_on_any_cpu(precision):
    for flags in (AMD_EPYC_MILAN, SAPPHIRE_RAPIDS, None):
        choice = choose_precision(precision, flags, _never_called)
        assert choice.precision == precision and "asked for" in choice.reason


def test_cpu_flags_are_this_machines_proc_cpuinfo_flags():
    expected = _flags_in_proc_cpuinfo()
    assert cpu_flags() == (None if expected is None else frozenset(expected))


def test_auto_on_this_machine_follows_its_cpu_flags_and_agrees_with_float32():
    flags = _flags_in_proc_cpuinfo()
    hardware = flags is not None and bool(flags & {"amx_bf16", "avx512_bf16"})
    auto = Encoder(precision="auto")

    assert auto.precision == ("bfloat16" if hardware else "float32"), auto.precision_reason
    assert auto.precision_reason.startswith("auto: ")
    assert ("passed the check" in auto.precision_reason) is hardware
    texts = [f"Mentoring engineers in topic number {i}: career growth and code review" for i in range(40)]
    cosine = np.einsum("ij,ij->i", auto.encode(texts), Encoder(precision="float32").encode(texts))
    assert cosine.min() >= 0.999


def test_the_fixed_check_texts_pass_with_the_real_model(encoder):
    check = encoder.bfloat16_agreement()
    assert check.rows == len(CONFIRMATION_TEXTS) > 16  # more than a query: the batched path
    assert MIN_COSINE <= check.min <= check.mean < 1.0  # bfloat16 arithmetic really ran
    # So a CPU with hardware bfloat16 gets it, given the same vectors.
    assert choose_precision("auto", AMD_EPYC_GENOA, encoder.bfloat16_agreement).precision == "bfloat16"


def test_an_explicit_precision_is_recorded_as_asked():
    fixed = Encoder(precision="float32")
    assert (fixed.precision, fixed.precision_reason) == ("float32", "float32 was asked for")
    assert "precision='float32'" in repr(fixed)
