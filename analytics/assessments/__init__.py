"""Joint assessments: drafting, the estimative-language checker, derived markings, evidence, review and dual
sign-off, versions. Each module owns one part (import from the module that holds the thing; nothing is
re-exported here):

    model.py      the draft, the version a reader sees, vocabularies, errors, draft normalisation (pure)
    yardstick.py  the PHIA probability yardstick and confidence levels (pure data)
    checker.py    the checks over a draft before review and sign-off
    marking.py    derived markings and `audience_within` (pure)
    reads.py      who may read which version; lists for the workspace, the overview and briefings
    evidence.py   the records an assessment cites: visibility, search, the draft's marking, pins at approval
    workflow.py   every write: create, save, submit, sign off, return, comment, successor; edit conflicts
    diff.py       what changed between two versions
"""
