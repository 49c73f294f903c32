"""protoc as the oracle of the contract gate's differential test.

Reads JSON from stdin: a list of cases, each {"roots": [dir, ...], "files": [path, ...]}
(files relative to their root). Runs protoc (grpcio-tools' copy, in this process) on each
case with the roots and the well-known types on the import path, and writes JSON to stdout:
one {"ok": bool, "errors": [[file, line, col, message], ...]} per case (line and col are
1-based; 0 when protoc names no location).
"""
import json
import os
import re
import sys
import tempfile

import grpc_tools
from grpc_tools import protoc

WKT = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
LOCATED = re.compile(r"^(.+?):(\d+):(\d+): (.*)$")


def run(case, scratch):
    args = ["protoc"]
    for root in case["roots"]:
        args.append(f"-I{root}")
    args += [f"-I{WKT}", f"--descriptor_set_out={os.devnull}"]
    args += case["files"]
    saved = os.dup(2)
    with tempfile.TemporaryFile(dir=scratch) as err:
        os.dup2(err.fileno(), 2)
        try:
            code = protoc.main(args)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    errors = []
    for line in text.splitlines():
        if not line.strip() or "warning:" in line.lower():
            continue
        m = LOCATED.match(line)
        if m:
            errors.append([m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)])
        else:
            path, _, msg = line.partition(": ")
            errors.append([path, 0, 0, msg or line])
    return {"ok": code == 0, "errors": errors}


def main():
    cases = json.load(sys.stdin)
    scratch = tempfile.mkdtemp()
    out = [run(c, scratch) for c in cases]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
