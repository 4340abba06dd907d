"""`python -m agent.planner`: the intent classifier's accuracy on the held-out utterances (JSON)."""

import json

from agent.planner.intents import evaluate_intents

print(json.dumps(evaluate_intents(), indent=2))
