-- What each evaluation sample asked, expected and got (issue 16: garak, JailbreakBench and Inspect samples).
--
-- Why: eval_samples held only a score and a value, so a garak attempt or a JailbreakBench behaviour lost its
-- prompt and response on import and an analyst could see that a model was jailbroken but not how. The columns are
-- named as Inspect names a sample's fields (input, target, output, explanation, metadata) so an Inspect log, a
-- garak attempt and a JailbreakBench behaviour land in the same places:
--   input        the prompt (garak: the attempt's prompt turns; JailbreakBench: the jailbreak prompt)
--   target       what the sample was after (JailbreakBench: the behaviour's goal), where the source states one
--   output       the model's response or transcript
--   explanation  the scorer's reason for the score (garak: which detector scored what)
--   metadata     everything else the source states about the sample, as JSON
-- All nullable: existing rows and importers that have no text keep working. Sample text carries no marking of its
-- own: like the scores it is only ever read joined to a visible eval_run, so it is marked like its run.
-- Added at the end of the table, so every `insert into eval_samples (run_id, sample_id, epoch, score, value)` is
-- unchanged.
alter table eval_samples add column input varchar;
alter table eval_samples add column target varchar;
alter table eval_samples add column output varchar;
alter table eval_samples add column explanation varchar;
alter table eval_samples add column metadata json;
