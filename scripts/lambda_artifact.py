#!/usr/bin/env python3
"""Checks that a Lambda bootstrap will start on provided.al2023 before anything deploys it.

  lambda_artifact.py check --arch x86_64|arm64 --glibc 2.34 BOOTSTRAP

Fails (exit 1, with the reason) when the binary is for another CPU than the one the stack will
declare, or needs a glibc symbol version newer than the runtime's: such a binary is refused by
the kernel (exec format error) or by the loader (aws-lambda-rust-runtime issue 932) at start.
Reads the ELF with pyelftools, so it works wherever Python does, macOS included.
"""

import argparse
import sys

from elftools.elf.elffile import ELFFile

# The ELF machine of each Lambda architecture.
MACHINES = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}


class ArtifactError(Exception):
    pass


def version_key(version):
    return tuple(int(part) for part in version.split("."))


def architecture(path):
    """The Lambda architecture the binary is built for."""
    with open(path, "rb") as stream:
        machine = ELFFile(stream).header["e_machine"]
    for arch, elf_machine in MACHINES.items():
        if machine == elf_machine:
            return arch
    raise ArtifactError(f"{path} is for {machine}, which Lambda does not run")


def glibc_versions(path):
    """Every GLIBC_x.y symbol version the binary needs, lowest first."""
    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        needs = elf.get_section_by_name(".gnu.version_r")
        names = set()
        if needs is not None:
            for _library, auxiliaries in needs.iter_versions():
                for auxiliary in auxiliaries:
                    if auxiliary.name.startswith("GLIBC_"):
                        names.add(auxiliary.name.removeprefix("GLIBC_"))
    return sorted(names, key=version_key)


def check(path, arch, glibc):
    """The highest glibc version the binary needs; an ArtifactError if it will not start."""
    built_for = architecture(path)
    if built_for != arch:
        raise ArtifactError(f"{path} is built for {built_for}, but the stack declares {arch}")
    versions = glibc_versions(path)
    newest = versions[-1] if versions else None
    if newest is not None and version_key(newest) > version_key(glibc):
        raise ArtifactError(
            f"{path} needs glibc {newest}; Lambda's provided.al2023 has {glibc} "
            "(build with make build, which targets that glibc)"
        )
    return newest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check")
    checking.add_argument("--arch", required=True, choices=sorted(MACHINES))
    checking.add_argument("--glibc", required=True)
    checking.add_argument("bootstrap")
    args = parser.parse_args()
    try:
        newest = check(args.bootstrap, args.arch, args.glibc)
    except (ArtifactError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{args.bootstrap}: {args.arch}, highest glibc symbol {newest} (Lambda has {args.glibc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
