#!/usr/bin/env python3
"""Serves ONNX files with Seldon MLServer over the Open Inference Protocol (gRPC on loopback),
for crowdtwin manifests that name an `endpoint`. Lays out DIR (settings.json, one folder per
model with its model-settings.json and this folder's onnx_runtime.py) and replaces itself with
`mlserver start DIR`, so stopping this process stops the server.

    .venv/bin/python tools/serving/serve.py --grpc-port 8081 --http-port 8080 --metrics-port 8082 \
        --model nanodet=models/nanodet.onnx DIR

Then a manifest with `endpoint: Some((url: "http://127.0.0.1:8081", model: "nanodet"))` runs it
remotely. `--vendor-example NAME=models/nanodet.ron` serves vendor_example.py, a black-box
pipeline for the pipeline-level contract (`task: pipeline`). Options per model: --calls-log
NAME=FILE, --die-after NAME=N (for tests), --threads N.
"""

import argparse
import json
import os
import pathlib
import shutil
import sys


def pairs(values):
    return dict(v.split("=", 1) for v in values or [])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH.onnx, run by onnx_runtime.py")
    parser.add_argument("--vendor-example", action="append", default=[], help="NAME=MANIFEST.ron: vendor_example.py's black-box pipeline over that NanoDet manifest")
    parser.add_argument("--echo", action="append", default=[], help="NAME: that vendor example answers by a checkable rule instead (see vendor_example.py)")
    parser.add_argument("--calls-log", action="append", help="NAME=FILE: a line per inference call")
    parser.add_argument("--die-after", action="append", help="NAME=N: the server exits on call N + 1")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-message-mib", type=int, default=64)
    parser.add_argument("dir")
    args = parser.parse_args()
    root = pathlib.Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": args.http_port,
        "grpc_port": args.grpc_port,
        "metrics_port": args.metrics_port,
        # With workers (the default, 1), uvloop 0.23 kills every worker at start-up.
        "parallel_workers": 0,
        "grpc_max_message_length": args.max_message_mib * 1024 * 1024,
    }
    (root / "settings.json").write_text(json.dumps(settings, indent=2))
    logs, deaths = pairs(args.calls_log), pairs(args.die_after)
    here = pathlib.Path(__file__).resolve().parent
    served = [(name, path, "onnx_runtime.py", "onnx_runtime.OnnxRuntimeModel") for name, path in pairs(args.model).items()]
    served += [(name, path, "vendor_example.py", "vendor_example.VendorExample") for name, path in pairs(args.vendor_example).items()]
    if not served:
        parser.error("nothing to serve: give --model or --vendor-example")
    for name, path, runtime, implementation in served:
        folder = root / "models" / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(here / runtime, folder / runtime)
        extra = {"threads": args.threads}
        if runtime == "onnx_runtime.py":
            shutil.copyfile(path, folder / "model.onnx")
            uri = str((folder / "model.onnx").resolve())
        else:
            extra["manifest"] = str(pathlib.Path(path).resolve())
            extra["tools"] = str(here.parents[1] / "models" / "tools")
            extra["echo"] = name in args.echo
            uri = extra["manifest"]
        if name in logs:
            extra["calls_log"] = str(pathlib.Path(logs[name]).resolve())
        if name in deaths:
            extra["die_after"] = int(deaths[name])
        model_settings = {"name": name, "implementation": implementation, "parameters": {"uri": uri, "extra": extra}}
        (folder / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    mlserver = pathlib.Path(sys.executable).with_name("mlserver")
    os.execv(str(mlserver), [str(mlserver), "start", str(root)])


if __name__ == "__main__":
    main()
