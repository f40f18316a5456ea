"""Media in and out: `audio` (load at 16 kHz, MFCC windows), `video` (read at 25 fps, write H.264 with
sound), `probe` (what a file holds, as keras-s2v sees it) and `photos` (portraits shipped in wheels)."""
