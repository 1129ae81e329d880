"""AI where it pays: LLM journey assignment, day-14 playbooks and feedback themes (docs/ai.md).

Every step is cached, PII-minimised, validated and has a rule fallback; with no OPENAI_API_KEY and no
OPENAI_BASE_URL nothing is called and the decisions stay on the rules.

The modules are imported where they are used (`journey`, `playbook`, `themes`, `client`, ...), not
re-exported here: the AI assets run the steps in a child process (`worker.py`), and the pipeline's
own process should not import openai and its ~500 modules (~40 MB) for nothing.
"""
