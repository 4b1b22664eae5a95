"""Who may see and open what: the viewer, the markings rules applied in SQL, and the pages per role.

The bottom layer with `store`: everything else asks these modules, none of them asks anything above.
"""
