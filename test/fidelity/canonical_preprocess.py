#!/usr/bin/env python3
"""The canonical pre-processing of the reference detectors, with real OpenCV, for Sieve's fidelity
test and benchmark. Written from the upstream projects, not from Sieve's code:

- Ultralytics (v8, 11): frames from cv2.VideoCapture (BGR), ultralytics.data.augment.LetterBox with
  auto=False, center=True, scaleup=True: r = min(h_in/h, w_in/w), new_unpad = round(w*r), round(h*r)
  (Python's round), cv2.resize(..., INTER_LINEAR) when the size changes, pad 114 with
  top = round(dh/2 - 0.1), left = round(dw/2 - 0.1); then BGR -> RGB (the /255 is left to the caller).
- YOLOX: yolox.data.data_augment.preproc: r = min(h_in/h, w_in/w), cv2.resize to
  (int(w*r), int(h*r)) with INTER_LINEAR, pasted top-left on a 114 canvas; stays BGR, no scaling.

Usage: canonical_preprocess.py VIDEO FAMILY IN_W IN_H [FRAMES]
  FRAMES: comma-separated frame indexes (ascending); all frames if omitted.
Writes, for each selected frame, IN_H*IN_W*3 bytes (HWC uint8, in the model's channel order) to
stdout, after a first line of JSON: {"width":..,"height":..,"frames":N,"cv2":"4.6.0"}.
"""
import json
import sys

import cv2
import numpy as np


def letterbox_ultralytics(img, in_w, in_h):
    shape = img.shape[:2]  # h, w
    r = min(in_h / shape[0], in_w / shape[1])
    new_unpad = int(round(shape[1] * r)), int(round(shape[0] * r))
    dw, dh = in_w - new_unpad[0], in_h - new_unpad[1]
    dw /= 2
    dh /= 2
    if shape[::-1] != new_unpad:
        img = cv2.resize(img, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return np.ascontiguousarray(img[..., ::-1])


def preproc_yolox(img, in_w, in_h):
    padded = np.ones((in_h, in_w, 3), dtype=np.uint8) * 114
    r = min(in_h / img.shape[0], in_w / img.shape[1])
    resized = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)), interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    padded[: int(img.shape[0] * r), : int(img.shape[1] * r)] = resized
    return padded


def main():
    path, family, in_w, in_h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    wanted = None
    if len(sys.argv) > 5 and sys.argv[5]:
        wanted = [int(x) for x in sys.argv[5].split(',')]
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        sys.exit(f'cannot open {path}')
    fn = letterbox_ultralytics if family == 'ultralytics' else preproc_yolox
    out = sys.stdout.buffer
    header = {'width': in_w, 'height': in_h, 'cv2': cv2.__version__,
              'frames': len(wanted) if wanted is not None else int(cap.get(cv2.CAP_PROP_FRAME_COUNT))}
    out.write((json.dumps(header) + '\n').encode())
    index, k = 0, 0
    while wanted is None or k < len(wanted):
        ok, frame = cap.read()
        if not ok:
            break
        if wanted is None or wanted[k] == index:
            img = fn(frame, in_w, in_h)
            assert img.shape == (in_h, in_w, 3), img.shape
            out.write(img.tobytes())
            k += 1
        index += 1
    out.flush()


if __name__ == '__main__':
    main()
