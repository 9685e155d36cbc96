"""Generate the Python protobuf/gRPC modules from ``proto/`` into ``stigmer_sessions/_gen``.

``buf/validate/validate.proto`` is not vendored: its compiled descriptor ships inside the
installed protovalidate package, so we assemble a FileDescriptorSet from it (plus the
google/protobuf files it imports, taken from ``google.protobuf``'s own descriptors) and hand
that to protoc with ``--descriptor_set_in``. The same set generates our ``validate_pb2``.

Generated modules import each other as top-level ``ai.*`` / ``buf.*`` packages; we rewrite
those imports so everything lives under ``stigmer_sessions._gen`` and nothing stray lands on
users' import path.

Usage: ``python tools/protos.py`` (write) or ``python tools/protos.py --check`` (exit 1 when
the committed code differs from what the protos generate).
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2
from grpc_tools import protoc
from protovalidate._gen.buf.validate import validate_pb

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
GEN_PACKAGE = "stigmer_sessions._gen"
GEN_DIR = ROOT / "stigmer_sessions" / "_gen"
VALIDATE_PROTO = "buf/validate/validate.proto"
_IMPORT_RE = re.compile(r"^(from|import) (ai|buf)([. ])", re.MULTILINE)


def _descriptor_set() -> bytes:
    """The FileDescriptorSet holding buf/validate/validate.proto and its google imports."""
    fds = descriptor_pb2.FileDescriptorSet()
    for module in (descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2):
        module.DESCRIPTOR.CopyToProto(fds.file.add())
    fds.file.add().ParseFromString(validate_pb.desc().proto.to_binary())
    return fds.SerializeToString()


def _generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        fds_path = Path(tmp) / "deps.binpb"
        fds_path.write_bytes(_descriptor_set())
        args = [
            "grpc_tools.protoc",
            f"--proto_path={PROTO_DIR}",
            f"--descriptor_set_in={fds_path}",
            f"--python_out={out}",
            f"--pyi_out={out}",
            f"--grpc_python_out={out}",
            VALIDATE_PROTO,
            *protos,
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
    for path in out.rglob("*.py*"):
        text = path.read_text()
        if path.name.endswith("_grpc.py") and "def add_" not in text:
            path.unlink()  # protoc writes an empty *_grpc.py for service-less files
            continue
        path.write_text(_IMPORT_RE.sub(rf"\1 {GEN_PACKAGE}.\2\3", text))
    for directory in [out, *(d for d in out.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").touch()


def _same_tree(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees (missing on either side counts)."""
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    diff = sorted(str(p) for p in files_a ^ files_b)
    diff += sorted(str(p) for p in files_a & files_b if not filecmp.cmp(a / p, b / p, shallow=False))
    return diff


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the generated code is stale")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "_gen"
        out.mkdir()
        _generate(out)
        if args.check:
            stale = _same_tree(out, GEN_DIR) if GEN_DIR.exists() else ["(stigmer_sessions/_gen missing)"]
            if stale:
                print("generated code is stale; run `make protos`:", *stale, sep="\n  ", file=sys.stderr)
                return 1
            print("generated code is current")
            return 0
        if GEN_DIR.exists():
            shutil.rmtree(GEN_DIR)
        shutil.copytree(out, GEN_DIR)
    print(f"generated {GEN_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
