import numpy as np
import pyvirtualcam

from .capture_backend import BACKEND_NAME, register


def test_real_camera_class_delivers_frames_to_capture_backend():
    backend = register()
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :, 2] = 200
    with pyvirtualcam.Camera(64, 48, 30, fmt=pyvirtualcam.PixelFormat.BGR, backend=BACKEND_NAME) as cam:
        assert cam.device == "Deadpan Test Camera"
        cam.send(frame)
    got = backend.received_bgr()
    assert len(got) == 1 and got[0].shape == (48, 64, 3) and got[0][0, 0, 2] == 200
