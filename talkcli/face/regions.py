"""Named landmark index sets of the MediaPipe 468-point face mesh.

"left"/"right" are the subject's own (the subject's left eye is on the image right).
Contours are ordered loops (first point not repeated).
"""

from __future__ import annotations

LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
# The two rings between them (MediaPipe's lipsUpper/LowerSemiOuter and SemiInner), each from
# its own corner point (76/306 and 62/292, on the line where the lips meet)
LIPS_SEMI_OUTER_UPPER = (76, 184, 74, 73, 72, 11, 302, 303, 304, 408, 306)
LIPS_SEMI_OUTER_LOWER = (76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306)
LIPS_SEMI_INNER_UPPER = (62, 183, 42, 41, 38, 12, 268, 271, 272, 407, 292)
LIPS_SEMI_INNER_LOWER = (62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292)
# Every point of each lip between the corners, all four rings (what moves with that lip)
LIPS_UPPER_RINGS = (LIPS_INNER_UPPER[1:-1] + LIPS_SEMI_INNER_UPPER[1:-1]
                    + LIPS_SEMI_OUTER_UPPER[1:-1] + LIPS_OUTER_UPPER[1:-1])
LIPS_LOWER_RINGS = (LIPS_INNER_LOWER[1:-1] + LIPS_SEMI_INNER_LOWER[1:-1]
                    + LIPS_SEMI_OUTER_LOWER[1:-1] + LIPS_OUTER_LOWER[1:-1])
LIPS_OUTER = LIPS_OUTER_UPPER + tuple(reversed(LIPS_OUTER_LOWER[1:-1]))
LIPS_INNER = LIPS_INNER_UPPER + tuple(reversed(LIPS_INNER_LOWER[1:-1]))
MOUTH_CORNERS = (61, 291)          # outer corners: subject's right, left
INNER_LIP_MID = (13, 14)           # upper, lower inner-lip midpoints

EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
EYE_RIGHT = EYE_RIGHT_UPPER + tuple(reversed(EYE_RIGHT_LOWER[1:-1]))
EYE_LEFT = EYE_LEFT_UPPER + tuple(reversed(EYE_LEFT_LOWER[1:-1]))
EYE_RIGHT_CORNERS = (33, 133)      # outer, inner
EYE_LEFT_CORNERS = (263, 362)      # outer, inner
EYE_RIGHT_LIDS = (159, 145)        # upper, lower lid midpoints
EYE_LEFT_LIDS = (386, 374)

BROW_RIGHT = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
BROW_LEFT = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
             54, 103, 67, 109)
JAW_LINE = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365,
            397, 288, 361, 323, 454)
CHIN = 152
FOREHEAD = 10
NOSE_TIP = 1

# Mesh indices of the first 16 eye-contour points of the iris model, in its output order
# (lower lid corner to corner, then the upper lid without corners); MediaPipe's
# UpdateFaceLandmarksCalculator uses the same table. FaceRig.eye_right/eye_left follow it.
EYE_RIGHT_REFINED = (33, 7, 163, 144, 145, 153, 154, 155, 133,
                     246, 161, 160, 159, 158, 157, 173)
EYE_LEFT_REFINED = (263, 249, 390, 373, 374, 380, 381, 382, 362,
                    466, 388, 387, 386, 385, 384, 398)
