"""The slice of MITRE ATLAS 5.6 (Apache-2.0) the demo data set uses, so the demo works without the full file.

`python -m analytics import atlas` replaces it with the full release; ids are the same, so demo incidents keep
their techniques.
"""

from __future__ import annotations

TACTICS: tuple[tuple[str, str], ...] = (
    ("AML.TA0002", "Reconnaissance"),
    ("AML.TA0003", "Resource Development"),
    ("AML.TA0004", "Initial Access"),
    ("AML.TA0000", "AI Model Access"),
    ("AML.TA0005", "Execution"),
    ("AML.TA0006", "Persistence"),
    ("AML.TA0012", "Privilege Escalation"),
    ("AML.TA0007", "Defense Evasion"),
    ("AML.TA0013", "Credential Access"),
    ("AML.TA0008", "Discovery"),
    ("AML.TA0015", "Lateral Movement"),
    ("AML.TA0009", "Collection"),
    ("AML.TA0001", "AI Attack Staging"),
    ("AML.TA0014", "Command and Control"),
    ("AML.TA0010", "Exfiltration"),
    ("AML.TA0011", "Impact"),
)

# (id, name, parent, tactics); sub-techniques take their parent's tactics, as in ATLAS.
TECHNIQUES: tuple[tuple[str, str, str | None, tuple[str, ...]], ...] = (
    ("AML.T0016", "Obtain Capabilities", None, ("AML.TA0003",)),
    ("AML.T0017", "Develop Capabilities", None, ("AML.TA0003",)),
    ("AML.T0019", "Publish Poisoned Datasets", None, ("AML.TA0003",)),
    ("AML.T0010", "AI Supply Chain Compromise", None, ("AML.TA0004",)),
    ("AML.T0040", "AI Model Inference API Access", None, ("AML.TA0000",)),
    ("AML.T0047", "AI-Enabled Product or Service", None, ("AML.TA0000",)),
    ("AML.T0044", "Full AI Model Access", None, ("AML.TA0000",)),
    ("AML.T0020", "Poison Training Data", None, ("AML.TA0003", "AML.TA0006")),
    ("AML.T0011", "User Execution", None, ("AML.TA0005",)),
    ("AML.T0012", "Valid Accounts", None, ("AML.TA0004", "AML.TA0012")),
    ("AML.T0015", "Evade AI Model", None, ("AML.TA0004", "AML.TA0007", "AML.TA0011")),
    ("AML.T0018", "Manipulate AI Model", None, ("AML.TA0006", "AML.TA0001")),
    ("AML.T0024", "Exfiltration via AI Inference API", None, ("AML.TA0010",)),
    ("AML.T0025", "Exfiltration via Cyber Means", None, ("AML.TA0010",)),
    ("AML.T0031", "Erode AI Model Integrity", None, ("AML.TA0011",)),
    ("AML.T0035", "AI Artifact Collection", None, ("AML.TA0009",)),
    ("AML.T0043", "Craft Adversarial Data", None, ("AML.TA0001",)),
    ("AML.T0048", "External Harms", None, ("AML.TA0011",)),
    ("AML.T0049", "Exploit Public-Facing Application", None, ("AML.TA0004",)),
    ("AML.T0051", "LLM Prompt Injection", None, ("AML.TA0005",)),
    ("AML.T0051.000", "Direct", "AML.T0051", ("AML.TA0005",)),
    ("AML.T0051.001", "Indirect", "AML.T0051", ("AML.TA0005",)),
    ("AML.T0052", "Phishing", None, ("AML.TA0004", "AML.TA0015")),
    ("AML.T0053", "AI Agent Tool Invocation", None, ("AML.TA0005", "AML.TA0012")),
    ("AML.T0054", "LLM Jailbreak", None, ("AML.TA0012", "AML.TA0007")),
    ("AML.T0055", "Unsecured Credentials", None, ("AML.TA0013",)),
    ("AML.T0056", "Extract LLM System Prompt", None, ("AML.TA0010",)),
    ("AML.T0057", "LLM Data Leakage", None, ("AML.TA0010",)),
    ("AML.T0058", "Publish Poisoned Models", None, ("AML.TA0003",)),
    ("AML.T0065", "LLM Prompt Crafting", None, ("AML.TA0003",)),
    ("AML.T0068", "LLM Prompt Obfuscation", None, ("AML.TA0007",)),
    ("AML.T0070", "RAG Poisoning", None, ("AML.TA0006",)),
    ("AML.T0072", "Reverse Shell", None, ("AML.TA0014",)),
    ("AML.T0073", "Impersonation", None, ("AML.TA0007",)),
    ("AML.T0080", "AI Agent Context Poisoning", None, ("AML.TA0006",)),
    ("AML.T0086", "Exfiltration via AI Agent Tool Invocation", None, ("AML.TA0010",)),
    ("AML.T0088", "Generate Deepfakes", None, ("AML.TA0001",)),
    ("AML.T0098", "AI Agent Tool Credential Harvesting", None, ("AML.TA0013",)),
    ("AML.T0101", "Data Destruction via AI Agent Tool Invocation", None, ("AML.TA0011",)),
    ("AML.T0102", "Generate Malicious Commands", None, ("AML.TA0001",)),
    ("AML.T0103", "Deploy AI Agent", None, ("AML.TA0005",)),
    ("AML.T0110", "AI Agent Tool Poisoning", None, ("AML.TA0006",)),
)
