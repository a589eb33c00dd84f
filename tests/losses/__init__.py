"""Tests of lightning_pose.losses."""
