-- The full MITRE ATLAS taxonomy (mitigations, release history, retired ids) and the mapping from evaluation
-- benchmarks to ATLAS techniques that the threat matrix and the incident <-> evaluation links rely on.
--
-- ATLAS rows are keyed on ATLAS ids and never deleted once imported: a technique dropped by a later release gets
-- `removed_in` set, so incidents that cite it still show its name while the matrix leaves it out.

alter table atlas_tactics add column if not exists description varchar;
alter table atlas_tactics add column if not exists removed_in varchar;
alter table atlas_techniques add column if not exists description varchar;
alter table atlas_techniques add column if not exists maturity varchar;
alter table atlas_techniques add column if not exists ordinal integer;       -- position in the release file
alter table atlas_techniques add column if not exists created_on date;
alter table atlas_techniques add column if not exists modified_on date;
alter table atlas_techniques add column if not exists removed_in varchar;

create table if not exists atlas_mitigations (
    id varchar primary key,
    name varchar not null,
    description varchar,
    categories varchar[] not null default [],   -- ATLAS 'category' (Policy, Technical - ML, ...)
    lifecycle varchar[] not null default [],    -- ATLAS 'ml-lifecycle' stages
    removed_in varchar
);

create table if not exists atlas_technique_mitigations (
    technique_id varchar not null,
    mitigation_id varchar not null,
    use varchar,                                 -- how the mitigation applies to this technique (ATLAS text)
    primary key (technique_id, mitigation_id)
);

-- One row per imported release (or re-import that changed something): what the taxonomy was and what changed.
create table if not exists atlas_versions (
    batch_id varchar primary key,
    version varchar not null,
    imported_by varchar not null,
    "at" timestamp not null default current_timestamp,
    tactics integer not null,
    techniques integer not null,
    mitigations integer not null,
    case_studies integer not null,
    changes json
);

-- Which ATLAS techniques an evaluation benchmark (or Inspect task) exercises. `benchmark_key` is the benchmark
-- name normalised (text after the last '/', lower case, letters and digits only) so 'StrongREJECT',
-- 'strong_reject' and 'inspect_evals/strong_reject' meet; analytics.links.bench_key_sql computes the same.
-- `scope` is 'ALL' for shipped defaults and otherwise the institute of the analyst who added the row. It is part
-- of the key so that a row another institute cannot see never blocks (or reveals itself to) their own edit.
create table if not exists benchmark_techniques (
    benchmark_key varchar not null,
    benchmark varchar not null,                  -- the name as entered, for display
    technique_id varchar not null,
    rationale varchar,
    origin varchar not null check (origin in ('default', 'analyst')),
    scope varchar not null check (scope in ('ALL', 'UK', 'AU', 'JOINT')),
    added_by varchar not null,
    added_at timestamp not null default current_timestamp,
    primary key (benchmark_key, technique_id, scope)
);

-- Every mapping edit, readable by analysts on the matrix page (the audit log is admin-only).
create sequence if not exists benchmark_technique_history_seq;
create table if not exists benchmark_technique_history (
    id bigint primary key default nextval('benchmark_technique_history_seq'),
    "at" timestamp not null default current_timestamp,
    email varchar not null,
    institute varchar,
    action varchar not null check (action in ('add', 'remove')),
    benchmark varchar not null,
    technique_id varchar not null,
    rationale varchar
);

-- Shipped defaults: attack-technique suites only. Capability benchmarks (SWE-bench, GPQA, RE-Bench) and
-- misuse-uplift or self-proliferation suites measure no ATLAS attack technique and are deliberately unmapped.
insert into benchmark_techniques (benchmark_key, benchmark, technique_id, rationale, origin, scope, added_by)
select regexp_replace(lower(regexp_replace(b, '^.*/', '')), '[^a-z0-9]+', '', 'g'), b, t, why, 'default', 'ALL', 'system'
from (values
    ('Cybench', 'AML.T0049', 'CTF tasks exploit exposed services'),
    ('Cybench', 'AML.T0050', 'CTF tasks drive shells and interpreters'),
    ('Cybench', 'AML.T0102', 'the model generates the attack commands itself'),
    ('InterCode-CTF', 'AML.T0050', 'CTF tasks drive shells and interpreters'),
    ('InterCode-CTF', 'AML.T0102', 'the model generates the attack commands itself'),
    ('gdm_intercode_ctf', 'AML.T0050', 'Inspect task name of InterCode-CTF'),
    ('gdm_intercode_ctf', 'AML.T0102', 'Inspect task name of InterCode-CTF'),
    ('Cyber range intrusion', 'AML.T0049', 'initial access through exposed services'),
    ('Cyber range intrusion', 'AML.T0050', 'command execution on compromised hosts'),
    ('Cyber range intrusion', 'AML.T0055', 'harvesting unsecured credentials to move on'),
    ('Cyber range intrusion', 'AML.T0072', 'reverse shells for command and control'),
    ('Cyber range intrusion', 'AML.T0025', 'exfiltration over ordinary network channels'),
    ('Cyber range intrusion', 'AML.T0102', 'the model generates the attack commands itself'),
    ('WMDP-Cyber', 'AML.T0017', 'hazardous cyber knowledge an adversary would use to develop capabilities'),
    ('AgentHarm', 'AML.T0053', 'harmful multi-step tasks carried out through agent tools'),
    ('AgentHarm', 'AML.T0054', 'requests include jailbreak templates'),
    ('AgentDojo injection', 'AML.T0051', 'prompt injection against tool-using agents'),
    ('AgentDojo injection', 'AML.T0051.001', 'injections arrive through tool outputs (indirect)'),
    ('AgentDojo injection', 'AML.T0086', 'injected goals exfiltrate data through agent tools'),
    ('agentdojo', 'AML.T0051', 'Inspect task name of AgentDojo'),
    ('agentdojo', 'AML.T0051.001', 'Inspect task name of AgentDojo'),
    ('agentdojo', 'AML.T0086', 'Inspect task name of AgentDojo'),
    ('StrongREJECT jailbreak', 'AML.T0054', 'jailbreak success rate'),
    ('strong_reject', 'AML.T0054', 'Inspect task name of StrongREJECT'),
    ('cyse2_prompt_injection', 'AML.T0051', 'CyberSecEval 2 prompt-injection suite'),
    ('cyse2_interpreter_abuse', 'AML.T0050', 'CyberSecEval 2 code-interpreter abuse suite')
) as d(b, t, why);
