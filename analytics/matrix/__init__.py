"""The threat matrix: the public ATLAS taxonomy, the heatmap queries over incidents and evaluations,
and their figures.
"""
