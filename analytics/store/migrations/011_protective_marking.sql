-- Protective marking of each assessment version, beside its TLP (issue 18): the level both governments' schemes
-- give it, one of 'OFFICIAL', 'OFFICIAL-SENSITIVE', 'PROTECTED' (analytics.assessments.model.PROTECTIVE_MARKINGS;
-- the UK Government Security Classifications and Australian PSPF words for each are in
-- analytics/export/briefing/content.py and docs/briefings.md). Versions saved before this migration are OFFICIAL,
-- the baseline of both schemes for government work.
alter table assessment_versions add column if not exists protective varchar default 'OFFICIAL';
update assessment_versions set protective = 'OFFICIAL' where protective is null;
