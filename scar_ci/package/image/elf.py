"""What an ELF file needs to run: its machine, its dynamic loader and the shared libraries it
names (DT_NEEDED), read with pyelftools from the program headers (stripped files keep them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"
MACHINES = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}


@dataclass(frozen=True)
class ElfNeeds:
    """An ELF file's machine (EM_...), loader (PT_INTERP, None for libraries) and needed
    libraries (sonames, in file order)."""

    machine: str
    interpreter: str | None
    needed: tuple[str, ...]


def is_elf(path: Path) -> bool:
    """Whether `path` starts with the ELF magic."""
    with path.open("rb") as stream:
        return stream.read(4) == ELF_MAGIC


@cache
def elf_needs(path: Path) -> ElfNeeds:
    """The loader and libraries `path` needs; ValueError when it is not a readable ELF file."""
    try:
        with path.open("rb") as stream:
            elf = ELFFile(stream)
            interpreter, needed = None, []
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_INTERP":
                    interpreter = segment.get_interp_name()
                elif segment["p_type"] == "PT_DYNAMIC":
                    needed += [tag.needed for tag in segment.iter_tags("DT_NEEDED")]
            return ElfNeeds(str(elf["e_machine"]), interpreter, tuple(needed))
    except (ELFError, OSError) as error:
        raise ValueError(f"{path} is not a readable ELF file: {error}") from None
