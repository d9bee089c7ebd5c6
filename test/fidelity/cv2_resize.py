#!/usr/bin/env python3
"""cv2.resize(INTER_LINEAR) of packed RGB images, for Sieve's resize test.

Usage: cv2_resize.py IN OUT. IN holds cases, each a little-endian uint32 header (sw, sh, dw, dh)
followed by sw*sh*3 bytes; OUT receives dw*dh*3 bytes per case, in order."""
import struct
import sys

import cv2
import numpy as np

data = open(sys.argv[1], 'rb').read()
out = open(sys.argv[2], 'wb')
pos = 0
while pos < len(data):
    sw, sh, dw, dh = struct.unpack_from('<4I', data, pos)
    pos += 16
    img = np.frombuffer(data, dtype=np.uint8, count=sw * sh * 3, offset=pos).reshape(sh, sw, 3)
    pos += sw * sh * 3
    out.write(cv2.resize(img, (dw, dh), interpolation=cv2.INTER_LINEAR).tobytes())
out.close()
