-- What the run and sample drill-down needs beyond migration 009 (issue 19): the scorer's extracted answer, an
-- agentic sample's transcript, and every other scorer's answer and explanation.
--
-- Why: Inspect's viewer lists a sample's answer beside its score, explains every score, and shows an agentic
-- sample as its conversation (messages in order, with roles and tool calls). The headline scorer's explanation
-- already has a column (009); the other scorers' go beside their scores in eval_sample_scores.
--   eval_samples.answer          the answer the headline scorer extracted from the output (Inspect's Score.answer)
--   eval_samples.transcript      the sample's messages as a JSON array, only when the sample went beyond one
--                                prompt and one reply (tool calls, several turns); the final reply stays in output
--   eval_sample_scores.answer, .explanation   the same for every other scorer
-- Transcripts are the large text: a few KB to MBs of JSON per sample, with keys and tool output repeating.
-- DuckDB picks dictionary/FSST compression for strings by itself, which halved synthetic agent transcripts; zstd
-- (DuckDB's own, per column) cut them to a quarter and a sample still reads in about 10 ms, so the transcript
-- column is zstd-compressed by DuckDB (measured in docs/evaluations.md). No marking of their own: read only
-- joined to a visible eval_run, like the rest of a sample.
alter table eval_samples add column answer varchar;
alter table eval_samples add column transcript varchar using compression zstd;
alter table eval_sample_scores add column answer varchar;
alter table eval_sample_scores add column explanation varchar;
