"""Generates the Python stubs from proto/ into src/ (run by `make clients`).

Uses grpcio-tools' bundled protoc and its copy of the well-known types; nothing else is needed.
The generated packages (src/fooddelivery/...) are not committed: CI generates them fresh.
"""
import os
import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

here = Path(__file__).resolve().parent
proto = here.parent.parent / "proto"
out = here / "src"
shutil.rmtree(out / "fooddelivery", ignore_errors=True)
files = sorted(str(p.relative_to(proto)) for p in proto.rglob("*.proto"))
wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
args = ["protoc", f"-I{proto}", f"-I{wkt}", f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *files]
rc = protoc.main(args)
if rc != 0:
    sys.exit(f"protoc failed ({rc})")
print(f"generated {len(files)} files from {proto} into {out / 'fooddelivery'}")
