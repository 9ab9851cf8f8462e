"""Rendering: the camera model (OpenCV intrinsics ↔ OpenGL matrices) and the PyBullet renderer."""
