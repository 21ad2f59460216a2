"""Filling pictures: the Inpainter, fill methods and strategies, batch filling, devices and
progress. What the front ends call."""
