"""An example vendor pipeline for crowdtwin's pipeline-level contract (`task: pipeline`), as an
MLServer runtime: a black box that takes the raw frame and answers with its mask, an anomaly
score and a region. Inside: NanoDet run by ONNX Runtime with the project's NumPy reference
decoder (models/tools/nanodet_reference.py), person and screen boxes filled as the mask; the
"anomaly" score is crowding, min(1, 4 x the masked share of the frame); the region is the box
around every masked pixel. It stands in for a system crowdtwin cannot see into.

    frame  UINT8 [1, H, W, 3]  ->  mask            UINT8 [1, H, W]
    camera INT64 [1]               anomaly_score   FP32  [1]
                                   anomaly_region  FP32  [1, 4]  (x0, y0, x1, y1; zeros: none)

model-settings.json `parameters.extra`: manifest (the NanoDet manifest), calls_log (one line
per call: id, camera, start, score — the tests compare them with the run's tables), threads;
echo: true replaces the detector with a rule the tests can check pixel for pixel — the mask is
where the red channel exceeds 128, the score is camera / 1000.
"""

import pathlib
import sys

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor


class VendorExample(MLModel):
    async def load(self) -> bool:
        extra = self.settings.parameters.extra or {}
        sys.path.insert(0, str(pathlib.Path(extra["tools"])))
        import nanodet_reference

        self._detector = nanodet_reference.Detector(extra["manifest"], threads=int(extra.get("threads", 1)))
        self._classes = {c["id"] for c in self._detector.manifest["decoder"]["classes"]}
        self._calls_log = extra.get("calls_log")
        self._echo = bool(extra.get("echo", False))
        self.inputs = [
            MetadataTensor(name="frame", datatype="UINT8", shape=[1, -1, -1, 3]),
            MetadataTensor(name="camera", datatype="INT64", shape=[1]),
            MetadataTensor(name="start", datatype="INT64", shape=[1]),
        ]
        self.outputs = [
            MetadataTensor(name="mask", datatype="UINT8", shape=[1, -1, -1]),
            MetadataTensor(name="anomaly_score", datatype="FP32", shape=[1]),
            MetadataTensor(name="anomaly_region", datatype="FP32", shape=[1, 4]),
        ]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        inputs = {i.name: NumpyCodec.decode_input(i) for i in payload.inputs}
        frame = inputs["frame"][0]
        camera = int(inputs["camera"].reshape(-1)[0])
        start = int(inputs["start"].reshape(-1)[0]) if "start" in inputs else -1
        h, w = frame.shape[:2]
        if self._echo:
            mask = (frame[:, :, 0] > 128).astype(np.uint8)
            score = np.float32(camera / 1000.0)
        else:
            detections, _ = self._detector.detect(frame)
            mask = np.zeros((h, w), dtype=np.uint8)
            xs, ys = np.arange(w) + 0.5, np.arange(h) + 0.5
            for d in detections:
                if d["class_id"] in self._classes:
                    x0, y0, x1, y1 = d["box"]
                    mask[np.ix_((ys >= y0) & (ys <= y1), (xs >= x0) & (xs <= x1))] = 1
            score = np.float32(min(1.0, 4.0 * mask.mean()))
        rows, cols = np.nonzero(mask)
        region = np.array([[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]] if len(rows) else [[0, 0, 0, 0]], dtype=np.float32)
        if self._calls_log:
            with open(self._calls_log, "a") as log:
                log.write(f"{payload.id} {camera} {start} {float(score)!r}\n")
        outputs = [
            NumpyCodec.encode_output("mask", mask[None]),
            NumpyCodec.encode_output("anomaly_score", np.array([score], dtype=np.float32)),
            NumpyCodec.encode_output("anomaly_region", region),
        ]
        return InferenceResponse(model_name=self.name, id=payload.id, outputs=outputs)
