"""Joint assessments: drafting, the estimative-language checker, derived markings, evidence,
review and dual sign-off, versions.
"""
