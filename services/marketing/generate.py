"""Generates the protobuf and gRPC stubs of every contract in proto/ into src/fooddelivery.

Run by `make marketing` (and the Dockerfile). The generated files are not committed.
"""

import os
import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

here = Path(__file__).resolve().parent
proto = Path(os.environ.get("PROTO_DIR", here.parent.parent / "proto"))
out = here / "src"
shutil.rmtree(out / "fooddelivery", ignore_errors=True)
files = sorted(str(p.relative_to(proto)) for p in proto.rglob("*.proto"))
wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
args = ["protoc", f"-I{proto}", f"-I{wkt}", f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}"]
if protoc.main([*args, *files]) != 0:
    sys.exit("protoc failed")
for d in (out / "fooddelivery").rglob("*"):
    if d.is_dir():
        (d / "__init__.py").touch()
(out / "fooddelivery" / "__init__.py").touch()
print(f"generated {len(files)} files into {out / 'fooddelivery'}")
