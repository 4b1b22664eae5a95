"""Everything that leaves the product as a file: marked tables, chart images, STIX bundles, briefings;
each export is audited.
"""
