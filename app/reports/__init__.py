"""Figures over what OpenClaw already records: response and recovery times, weekly reports."""
