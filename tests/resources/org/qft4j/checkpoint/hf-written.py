# Writes a safetensors file with the reference implementation (huggingface/safetensors), for qft4j's reader test.
import numpy as np
from safetensors.numpy import save_file
t = {
    "f32": np.array([[1.5, -2.0, 3.25], [0.0, 1e-3, -7.0]], dtype=np.float32),
    "f16": np.array([1.0, -0.5, 65504.0], dtype=np.float16),
    "i8": np.array([-128, 0, 127], dtype=np.int8),
    "u8": np.array([0, 200, 255], dtype=np.uint8),
    "i32": np.array([[-1, 2], [3, -4]], dtype=np.int32),
    "i64": np.array([-(2**62), 2**62], dtype=np.int64),
    "scalar": np.array(2.5, dtype=np.float32),
}
save_file(t, "hf-written.safetensors", metadata={"format": "np", "note": "written by safetensors"})
