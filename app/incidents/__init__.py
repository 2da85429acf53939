"""Incidents: a commander, a timeline, a war-room chat; opened and closed from chat."""
