"""An MLServer runtime that serves one ONNX file with ONNX Runtime, for crowdtwin's served-model
path (the Open Inference Protocol over gRPC). Its declared inputs and outputs (names, FP32,
shapes with -1 for free dimensions) come from the ONNX file, so a client reads them from the
server's model metadata.

model-settings.json `parameters.extra` (all optional):
  threads    ONNX Runtime intra-op threads (default 1)
  calls_log  a file that gets one line per inference call (the tests count the server's calls)
  die_after  the server process exits on this call number plus one (the tests' "killed mid-run")
"""

import os

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor

_TYPES = {"tensor(float)": "FP32", "tensor(uint8)": "UINT8", "tensor(int64)": "INT64"}


def _dims(shape):
    return [d if isinstance(d, int) and d > 0 else -1 for d in shape]


class OnnxRuntimeModel(MLModel):
    async def load(self) -> bool:
        extra = (self.settings.parameters.extra or {}) if self.settings.parameters else {}
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(extra.get("threads", 1))
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(self.settings.parameters.uri, options, providers=["CPUExecutionProvider"])
        self._calls_log = extra.get("calls_log")
        self._die_after = extra.get("die_after")
        self._calls = 0
        self.inputs = [MetadataTensor(name=i.name, datatype=_TYPES.get(i.type, i.type), shape=_dims(i.shape)) for i in self._session.get_inputs()]
        self.outputs = [MetadataTensor(name=o.name, datatype=_TYPES.get(o.type, o.type), shape=_dims(o.shape)) for o in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        self._calls += 1
        if self._die_after is not None and self._calls > int(self._die_after):
            os._exit(3)
        feeds = {i.name: NumpyCodec.decode_input(i).astype(np.float32, copy=False) for i in payload.inputs}
        names = [o.name for o in payload.outputs] if payload.outputs else [o.name for o in self._session.get_outputs()]
        results = self._session.run(names, feeds)
        if self._calls_log:
            with open(self._calls_log, "a") as log:
                log.write(f"{payload.id}\n")
        return InferenceResponse(model_name=self.name, id=payload.id, outputs=[NumpyCodec.encode_output(n, r) for n, r in zip(names, results)])
