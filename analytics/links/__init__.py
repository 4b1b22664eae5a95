"""Bridges between record types: which evaluations speak to an incident, which incidents to a benchmark."""
