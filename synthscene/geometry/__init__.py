"""Pure geometry, no rendering: the camera model (OpenCV intrinsics ↔ OpenGL matrices, poses) and
object silhouettes (visual meshes projected and rasterised) used by aiming and by the labels."""
