"""STIX 2.1 bundles in: from MISP, OpenCTI or the partner institute's own instance of this dashboard.

What becomes what:
- `incident` objects become incidents; a `report` or `grouping` that refers to no incident (how MISP events
  arrive: published as reports, unpublished as groupings) becomes an incident too, and one that does refer to
  incidents gives them its attack patterns (unless its relationships say which incident uses which);
- `attack-pattern` objects whose external id is an ATLAS technique (AML.T...), and MISP's ATLAS galaxy clusters
  (`x-misp-galaxy-cluster`), become the techniques of the incidents related to them (a `relationship`, or the
  same report or grouping);
- `identity` objects decide the originating institute (the two institutes' and the public sources' identities
  have fixed ids, see analytics.stix_vocabulary; anyone else's objects are recorded as originating with the
  importing institute; public data stays PUBLIC only when the store's operator imports);
- `note` objects about an incident are kept with it (`incident_notes`), under the note they were derived from;
- properties prefixed `x_ukau_` carry this dashboard's own fields (category, severity, releasability, source ...);
  an object with `x_ukau_id` is a record of this dashboard and is read exactly (nothing invented for what is
  absent), so an export imports into the other institute's instance, or a fresh store, without loss;
- the import's constants (`--set FIELD=VALUE`) fill what an object leaves out, `--recipients` names the people of
  TLP:RED objects that name none; MISP's threat level becomes a severity.

Markings: TLP 2.0 marking definitions are kept; TLP 1.0 ones are mapped (WHITE becomes CLEAR). The default TLP
given to the import can only raise a marking; the default releasability only narrows it. A bundle is refused as a
whole, with every reason, when the stix2 library rejects an object (bad ids, timestamps, missing properties), a
marking definition is unknown, or a reference does not resolve.

Versions: a STIX id seen before with the same `modified` is no change; a newer `modified` replaces the record,
keeping the previous version in `record_history` (so the batch can be undone) and never lowering its marking; a
record that originated in the other institute is never overwritten by this institute's bundle.

The modules, in the order a bundle passes through them (import each thing from the module that holds it):
  check     parse with stix2 and list every reason to refuse; no store (BundleCheck, check_bundle)
  objects   objects -> candidate incident records, techniques and notes; no store (build_candidates)
  commit    the one transaction: add, update or leave each record (import_stix, import_stix_bytes)
The ids and markings shared with the STIX export live in analytics.stix_vocabulary.
"""
