"""Scenes: assets, the plain-data SceneSample, sampling it, and the PyBullet world that poses it."""
